"""Reading and writing files safely: nothing half-written, nothing trusted before it is checked.

    serialize.py   atomic writes, the .npz checkpoint format (no pickle), write errors
                   that name the file
    npyfile.py     .npy/.npz headers checked against the bytes and a size cap, before
                   NumPy allocates anything
    metadata.py    a checkpoint's metadata, field by field
    budget.py      the one memory budget: what an input may make minivae hold
"""
