"""A library that refuses every start method but fork (as some do, with a check like this)."""
import multiprocessing as mp

if __name__ == "__main__":
    if mp.get_start_method() != "fork":
        raise AssertionError("This module only works with the 'fork' start method.")
    print("fork it is")
