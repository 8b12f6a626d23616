"""`make demo`: example (a), the SageMaker k-means tutorial, end to end (see sagemaker_tutorial.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sagemaker_tutorial import main  # noqa: E402

if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "output" / "demo")
