"""toylab: the helper package of the toylab book.

One module per concern, each named for what it holds:

- ``data``: the tasks' data sets (modular addition, ...)
- ``models``: TransformerLens models built from a plain config
- ``train``: the one training loop, with snapshots and ``cache`` (the run cache on disk)
- ``hooks``: clamping, ablating and freezing activations, for analysis or throughout training
- ``ensemble``: many small models of one architecture trained as one (seed sweeps)
- ``fourier``: the Fourier basis of Z_p and sparsity measures
- ``grokking``: the analyses of the grokking chapter
- ``induction``: the induction-head chapter: its data, head scores (previous-token, prefix-matching, copying, composition), ICL score, pattern-preserving ablation
- ``icl_regression``: in-context linear regression: tasks, attention models, GD and other predictors
- ``ode``: linear ODEs and their exact flow, Euler/AB2/RK4, next-state baselines, the learned stencil and order of convergence
- ``modular_mlp``: He et al.'s two-layer network on modular addition and its Fourier read-out
- ``plotting``: figures and views over training snapshots
"""

__version__ = "0.1.0"
