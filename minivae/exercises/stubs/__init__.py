"""The stubs a workspace starts from: ``python -m minivae.exercises start DIR`` copies them.

Each file is one exercise: the signatures of minivae/exercises/answers.py, the
docstrings of minivae's own functions, and bodies that raise
``NotImplementedError("exercise N: ...")`` until the learner writes them. They are
not imported from here: ex07_vae.py imports the learner's other files by name.
"""
