# read-only-src: writing next to the script fails; the working directory is writable.
import os

with open("in_cwd.txt", "w") as f:
    f.write("fine\n")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "beside.txt"), "w") as f:
    f.write("refused\n")
