"""The pieces of ``tools/benchmark.py``, one concern per module:

- :mod:`.models`: the peers as data (:data:`~.models.PEERS`: a row name, its builder,
  the runtimes it is compared in, its published AP);
- :mod:`.runtimes`: the runtimes as data (:data:`~.runtimes.CPU_RUNTIMES`,
  :data:`~.runtimes.GPU_RUNTIMES`: a name, how a model is wrapped for it, which batches);
- :mod:`.timing`: the one alternating timing loop, per-round ratios, training steps,
  SIGTERM-safe steps;
- :mod:`.profiling`: the profiler's convolution share, eager and compiled;
- :mod:`.cpu`, :mod:`.gpu`: what each device's run measures (a result object) and the
  report lines made from it, apart;
- :mod:`.reports`: the report lines both devices share (ratios, the training step);
- :mod:`.plots`: latency against FLOPs, published AP against latency.

A new peer is one :class:`~.models.Peer` in ``PEERS``; a new runtime one
:class:`~.runtimes.Runtime` in ``CPU_RUNTIMES`` and its name in the peers that run it.
"""
