"""Scripts that reproduce the papers' claims on the data we have; results in RESULTS.md.

A package so that one experiment can use another's code by an ordinary import
(``experiments.meta_neuron`` drives ``experiments.meta_neuron_grid``). Run each as a module from
the repository root, e.g. ``python -m experiments.reservoirs adaptive --seeds 0``; ``axonal`` is
the installed package (``make install`` installs it, editable, into ``.venv``).
"""
