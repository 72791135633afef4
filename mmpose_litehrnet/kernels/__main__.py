"""``python -m mmpose_litehrnet.kernels``: builds the CPU kernels now (for an image or a
server; ``MMPOSE_LITEHRNET_CPU_TARGET`` as at run time) and says where they are."""
from .build import LIBRARY, cpu_kernels_available, cpu_target


def main() -> int:
    """Builds the kernels now (for an image or a server), says where; 1 where they
    cannot be built."""
    if not cpu_kernels_available():
        print('mmpose_litehrnet: the CPU kernels could not be built (see the warning above)')
        return 1
    print(f'mmpose_litehrnet: the CPU kernels for -march={cpu_target()} are in '
          f'{LIBRARY.build_dir(LIBRARY.candidate_flags()[0])} (or beside it, built without '
          'OpenMP)')
    return 0


raise SystemExit(main())
