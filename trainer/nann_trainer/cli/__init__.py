"""The trainer's commands, one module each, run through ``python3 -m nann_trainer <command>``.

Every module has a docstring (its ``--help`` text), ``add_arguments(parser)`` and ``run(args)``;
:data:`COMMANDS` maps each command name to its module and a one-line summary. Modules are imported
only when their command runs, so ``--help`` of the whole trainer does not load torch.
"""

COMMANDS = {
    "train": ("train", "train a scorer on interaction logs (MovieLens-100k): model directory + eval corpus"),
    "train-dr": ("train_dr", "train a Deep Retrieval structure model with EM on a `train` run"),
    "train-synthetic": ("train_synthetic", "train a scorer on a synthetic corpus written by `./nann corpus`"),
    "distract": ("distract", "rewrite a run's eval corpus with another number of distractors"),
    "make-models": ("make_models", "write (or --check) the deterministic untrained fixture models"),
    "make-demo": ("make_demo", "make the demo's catalog, events and model from MovieLens-100k"),
    "make-oracle-scorers": ("make_oracle_scorers", "write hand-made oracle scorers (kernel, l2) to diagnose the walk"),
    "matrix": ("matrix", "the model matrix's table and plot from trainer/model_matrix.sh's eval files"),
    "plot-eval": ("plot_eval", "plot coverage (or another metric) against scored fraction from `./nann eval --json`"),
    "tables": ("tables", "tables and plots from trainer/run_tables.sh's runs"),
}
