"""``python -m xrec_bench``: the command-line interface."""

from xrec_bench.cli import main

if __name__ == "__main__":
    main(prog_name="xrec-bench")
