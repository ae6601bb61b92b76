"""classify@V: three classifiers on the frozen codes, chosen on val, scored once on test, and a
clustering probe that uses no labels at all.

Reads: the embeddings parquet only (no autoencoder); params seed, classify.
Writes: metrics JSON (per head: accuracy, macro F1, per-digit precision/recall/F1, the chosen
setting; kmeans: clustering accuracy and NMI on the test codes), the classification report as CSV,
and OUT_CONFUSION/{head,probe,knn}.csv (actual, predicted).
"""
import argparse
from pathlib import Path

import pandas as pd

from autoencoders import io, latent, params


def classify(emb: dict, cfg: params.ClassifyParams, seed: int) -> tuple[dict, dict]:
    """Returns (metrics per head, test predictions per head)."""
    train, val, (z_test, y_test) = emb["train"], emb["val"], emb["test"]
    for i, k in enumerate(cfg.knn_k):  # a data-dependent bound, so checked here rather than in params
        if k > len(train[0]):
            raise params.ParamsError(f"classify.knn_k[{i}]: must be <= the {len(train[0])} training codes, got {k}")
    fitted = {
        "head": latent.fit_head(train, val, cfg.head_hidden, cfg.head_epochs, cfg.head_batch_size, cfg.head_lr, seed),
        "probe": latent.fit_probe(train, val, cfg.probe_c, seed),
        "knn": latent.fit_knn(train, val, cfg.knn_k),
    }
    chosen_name = {"head": "epoch", "probe": "C", "knn": "k"}
    metrics, predictions = {}, {}
    for name, (predict, chosen) in fitted.items():
        predictions[name] = predict(z_test)  # the only time test codes are used
        metrics[name] = {**latent.classification_metrics(predictions[name], y_test), chosen_name[name]: chosen}
    metrics["kmeans"] = latent.cluster_probe(z_test, y_test, cfg.kmeans_restarts, seed)
    return metrics, predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--confusion", type=Path, required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    emb = latent.load_embeddings(args.embeddings)
    metrics, predictions = classify(emb, p.classify, p.seed)
    rows = [{"classifier": name, "digit": digit, **scores}
            for name, m in metrics.items() for digit, scores in m.get("per_digit", {}).items()]
    io.write_text(args.report, pd.DataFrame(rows).to_csv(index=False, float_format="%.4f"))
    for name, pred in predictions.items():
        io.write_text(args.confusion / f"{name}.csv",
                      pd.DataFrame({"actual": emb["test"][1], "predicted": pred}).to_csv(index=False))
    io.write_json(args.metrics, metrics)
    print(", ".join(f"{name} {m['accuracy']:.4f}" for name, m in metrics.items()),
          f"test accuracy; kmeans NMI {metrics['kmeans']['nmi']:.4f}")


if __name__ == "__main__":
    main()
