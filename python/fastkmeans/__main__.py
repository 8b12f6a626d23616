"""``python -m fastkmeans``: the ``fastkmeans`` command."""

from fastkmeans.cli import main

if __name__ == "__main__":
    main(prog_name="fastkmeans")
