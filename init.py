#!/usr/bin/env python
"""Draw random OPLS-AA bonded parameter sets and create one signac job per set.

    python init.py --n 10 --seed 42 --preset demo
"""
import sys

from mobcg.init import main

if __name__ == "__main__":
    sys.exit(main())
