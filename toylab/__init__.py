"""toylab: the helper package of the toylab book.

One rule says where a helper lives: used by one chapter, it is in the module
named exactly like that chapter's notebook; used by two or more, it is in the
module named for what it does. No chapter module imports another.

Chapter modules (data, models, analyses and exercise checks, in that order):

- ``grokking``: the one-layer transformer of Nanda et al., its Fourier analyses, progress measures
- ``grokking_network``: He et al.'s two-layer network, the wave read-out of its weights
- ``induction_heads``: smeared keys, OV and composition scores
- ``icl_regression``: in-context linear regression, attention models, GD and other predictors
- ``ode_circuits``: linear ODEs, integrators, the state transformer, stencils and orders
- ``learning_coefficient``: the LLC of saved snapshots with devinterp, per head and per dataset
- ``repeated_data``: a repeated pool of sequences in the induction task, its sweep and scores

Shared modules:

- ``claims``: every assertion of every chapter, with its bound and null, recorded for ``make margins``
- ``train``: the one training loop (and ``cache``, the run cache on disk)
- ``ensemble``: many small models of one architecture trained as one
- ``hooks``: interventions: clamping, zero/mean, pattern-preserving and path ablation
- ``heads``: head scores read by more than one chapter
- ``induction_task``: the induction task's data, model, training run and scores
- ``data``: the modular-addition task of both grokking chapters
- ``fourier``: the Fourier basis of Z_p and sparsity measures
- ``models``: the generic TransformerLens builder
- ``plotting``: the book's figure style, curves, views over training snapshots
"""

__version__ = "0.1.0"
