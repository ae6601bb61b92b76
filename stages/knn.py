"""knn@V: k nearest neighbours among the standardized training codes, k chosen on val, scored once on test.

A stage of its own because it depends on one param alone and trains nothing: classify@V has found
each code's nearest training codes already, so `dvc exp run -S 'classify.knn_k=[1,3]'` re-runs
the ten knn stages (a vote each, numpy alone, no torch), the report and track.

Reads: the neighbours npz (classify@V); param classify.knn_k.
Writes: a metrics JSON (accuracy, macro F1, per-digit precision/recall/F1/support, the chosen k) and the
test confusion CSV (actual, predicted).
"""

import argparse

from autoencoders import data, io, params, runtime, scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--neighbours", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--confusion", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    found = data.load_npz(args.neighbours)
    if max(p.classify.knn_k) > found["val_nearest"].shape[1]:  # params.yaml changed behind DVC's back
        raise params.ParamsError(
            f"classify.knn_k: {args.neighbours} holds {found['val_nearest'].shape[1]} "
            "neighbours per code; run classify first"
        )
    k, predictions = scoring.choose_k(found, p.classify.knn_k)
    metrics = {**scoring.classification_metrics(predictions, found["test_labels"]), "k": k}
    io.write_csv(args.confusion, scoring.confusion_rows(found["test_labels"], predictions))
    io.write_json(args.metrics, metrics)
    print(f"knn (k={k}) {metrics['accuracy']:.4f} test accuracy")


if __name__ == "__main__":
    runtime.run(main)
