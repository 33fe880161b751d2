#!/usr/bin/env python3
"""Trains the digits MLP that powerbatch's tests and examples/classify_digits load.

Data: scikit-learn's bundled 8x8 digits (1797 images, 64 pixels valued 0..16, 10 classes).
Model: 64 -> 64 (relu) -> 32 (relu) -> 10 (softmax), scikit-learn's MLPClassifier on standardised inputs.
Writes, beside this script:
  manifest              the layer list powerbatch::compute::load_mlp reads
  fc{1,2,3}.weight.npy  float32 [out, in]  (PyTorch's nn.Linear layout; sklearn's coefs_ transposed)
  fc{1,2,3}.bias.npy    float32 [out]
  mean.npy, std.npy     float32 [64]      the StandardScaler's mean and scale (1 where a pixel never varies)
  X_test.npy            float32 [450, 64] the held-out quarter, raw pixels (the model standardises them itself)
  y_test.npy            int64   [450]     their labels
Fixed seeds: the split and the training are reproducible with the same scikit-learn version (1.2.1 here).
Run with a python3 that has scikit-learn (Debian: python3-sklearn): /usr/bin/python3 train.py
"""
import pathlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).resolve().parent
SEED = 0


def main() -> None:
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)

    scaler = StandardScaler().fit(x_train)
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), activation='relu', alpha=1e-3, max_iter=600,
                        random_state=SEED)
    mlp.fit(scaler.transform(x_train), y_train)
    accuracy = mlp.score(scaler.transform(x_test), y_test)

    names = []
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_), start=1):
        np.save(HERE / f'fc{i}.weight.npy', np.ascontiguousarray(w.T, dtype=np.float32))
        np.save(HERE / f'fc{i}.bias.npy', b.astype(np.float32))
        names.append(f'fc{i}')
    np.save(HERE / 'mean.npy', scaler.mean_.astype(np.float32))
    np.save(HERE / 'std.npy', scaler.scale_.astype(np.float32))
    np.save(HERE / 'X_test.npy', np.ascontiguousarray(x_test, dtype=np.float32))
    np.save(HERE / 'y_test.npy', y_test)

    lines = ['# powerbatch MLP manifest: the digits classifier, written by train.py',
             f'# scikit-learn {__import__("sklearn").__version__}, seed {SEED}, '
             f'held-out accuracy {accuracy:.4f} on {len(y_test)} images',
             'input 64',
             'scaling mean.npy std.npy']
    for i, name in enumerate(names):
        activation = 'relu' if i + 1 < len(names) else 'none'
        lines.append(f'layer {name}.weight.npy {name}.bias.npy {activation}')
    lines.append('output softmax')
    (HERE / 'manifest').write_text('\n'.join(lines) + '\n')
    print(f'held-out accuracy (scikit-learn, float64): {accuracy:.4f} on {len(y_test)} images')


if __name__ == '__main__':
    main()
