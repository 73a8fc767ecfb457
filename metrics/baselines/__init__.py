"""Data only: BERTScore rescale baselines (LAYER,P,R,F files) this project builds and ships.

Each ``<model>.tsv`` has a ``<model>.json`` beside it recording how it was built (corpus, seed,
pair count, model sha256, library versions); see ``metrics.bertscore_baseline.calibrate_baseline``.
"""
