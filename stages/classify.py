"""classify@V: two trained classifiers on the frozen codes, chosen on val and scored once on test; a
clustering probe that uses no labels at all; and, for knn@V, each val and test code's nearest
training codes, searched once.

Reads: the embeddings parquet only (no autoencoder); params seed and classify's head_*, probe_c,
kmeans_restarts and knn_neighbours (every key but knn_k, which is knn's alone).
Writes: a metrics JSON (per classifier: accuracy, macro F1, per-digit precision/recall/F1/support, the
chosen setting; kmeans: clustering accuracy and NMI on the test codes), OUT_CONFUSION/{head,probe}.csv
(actual, predicted) and the neighbours npz (the labels of the knn_neighbours nearest standardized
training codes of every val and test code, closest first, and the codes' own labels).
"""

import argparse
from pathlib import Path

from autoencoders import classifiers, data, io, latent, params, runtime, scoring


def classify(emb: dict, cfg: params.ClassifyParams, seed: int) -> tuple[dict, dict]:
    """Returns (metrics per classifier, test predictions per classifier)."""
    train, val, (z_test, y_test) = emb["train"], emb["val"], emb["test"]
    metrics, predictions = {}, {}
    for name, (fit, setting) in classifiers.CLASSIFIERS.items():
        predict, chosen = fit(train, val, cfg, seed)
        predictions[name] = predict(z_test)  # the only time test codes are used
        metrics[name] = {**scoring.classification_metrics(predictions[name], y_test), setting: chosen}
    metrics["kmeans"] = classifiers.cluster_probe(z_test, y_test, cfg.kmeans_restarts, seed)
    return metrics, predictions


def neighbours(emb: dict, k: int) -> dict:
    if k > len(emb["train"][0]):  # a data-dependent bound, so checked here rather than in params
        raise params.ParamsError(
            f"classify.knn_neighbours: must be <= the {len(emb['train'][0])} training codes, got {k}"
        )
    return classifiers.find_neighbours(emb["train"], emb["val"], emb["test"], k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--confusion", type=Path, required=True)
    parser.add_argument("--neighbours", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    emb = latent.load_embeddings(args.embeddings)
    found = neighbours(emb, p.classify.knn_neighbours)  # first: it checks a bound on the data
    metrics, predictions = classify(emb, p.classify, p.seed)
    with io.atomic_dir(args.confusion) as tmp:
        for name, pred in predictions.items():
            io.write_csv(tmp / f"{name}.csv", scoring.confusion_rows(emb["test"][1], pred))
    data.save_npz(args.neighbours, found)
    io.write_json(args.metrics, metrics)
    print(
        ", ".join(f"{name} {m['accuracy']:.4f}" for name, m in metrics.items()),
        f"test accuracy; kmeans NMI {metrics['kmeans']['nmi']:.4f}",
    )


if __name__ == "__main__":
    runtime.run(main)
