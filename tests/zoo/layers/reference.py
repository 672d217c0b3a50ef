"""NumPy implementations of the course's cell equations, one step at a time (the test oracle).

Written from `DESIGN.md`'s equations, not from the zoo's code: each reads the weights of a zoo cell
in its documented layout and applies the equation literally, W [a<t-1>, x<t>] as one product.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _w(cell, block, blocks):
    """W of one block as the course writes it: rows for [a<t-1>, x<t>] stacked."""
    units = cell.units
    kernel = np.asarray(cell.kernel)[:, block * units : (block + 1) * units]
    recurrent = np.asarray(cell.recurrent_kernel)[:, block * units : (block + 1) * units]
    return np.concatenate([recurrent, kernel], axis=0)


def _b(cell, block):
    units = cell.units
    if cell.bias is None:
        return np.zeros(units)
    bias = np.asarray(cell.bias)
    if bias.ndim == 2:  # GRU reset_after: (input bias, recurrent bias)
        return bias[:, block * units : (block + 1) * units]
    return bias[block * units : (block + 1) * units]


def simple_rnn(cell, x, g=np.tanh):
    """a<t> = g(Wa [a<t-1>, x<t>] + ba); x is (batch, time, features). Returns all a<t>."""
    a = np.zeros((x.shape[0], cell.units))
    w, b = _w(cell, 0, 1), _b(cell, 0)
    out = []
    for t in range(x.shape[1]):
        a = g(np.concatenate([a, x[:, t]], axis=1) @ w + b)
        out.append(a)
    return np.stack(out, axis=1)


def lstm(cell, x):
    """The course's LSTM (peephole variant when the cell has one). Returns all a<t>, last c."""
    a = np.zeros((x.shape[0], cell.units))
    c = np.zeros_like(a)
    w_u, w_f, w_c, w_o = (_w(cell, k, 4) for k in range(4))
    b_u, b_f, b_c, b_o = (_b(cell, k) for k in range(4))
    p_u = p_f = p_o = 0
    if cell.peephole:
        p_u, p_f, p_o = np.asarray(cell.peephole_kernel)
    out = []
    for t in range(x.shape[1]):
        ax = np.concatenate([a, x[:, t]], axis=1)
        c_tilde = np.tanh(ax @ w_c + b_c)
        gamma_u = sigmoid(ax @ w_u + b_u + p_u * c)
        gamma_f = sigmoid(ax @ w_f + b_f + p_f * c)
        c = gamma_u * c_tilde + gamma_f * c
        gamma_o = sigmoid(ax @ w_o + b_o + p_o * c)
        a = gamma_o * np.tanh(c)
        out.append(a)
    return np.stack(out, axis=1), c


def gru(cell, x):
    """The course's GRU: full (reset before or after the matmul) or minimal. Returns all c<t>."""
    c = np.zeros((x.shape[0], cell.units))
    units = cell.units
    out = []
    if cell.variant == "minimal":
        w_u, w_c = _w(cell, 0, 2), _w(cell, 1, 2)
        b_u, b_c = _b(cell, 0), _b(cell, 1)
        for t in range(x.shape[1]):
            cx = np.concatenate([c, x[:, t]], axis=1)
            c_tilde = np.tanh(cx @ w_c + b_c)
            gamma_u = sigmoid(cx @ w_u + b_u)
            c = gamma_u * c_tilde + (1 - gamma_u) * c
            out.append(c)
        return np.stack(out, axis=1)
    w_u, w_r, w_c = (_w(cell, k, 3) for k in range(3))
    b_u, b_r, b_c = (_b(cell, k) for k in range(3))
    if cell.reset_after:
        b_u, b_r = b_u.sum(0), b_r.sum(0)  # both biases add up inside σ
    for t in range(x.shape[1]):
        cx = np.concatenate([c, x[:, t]], axis=1)
        gamma_u = sigmoid(cx @ w_u + b_u)
        gamma_r = sigmoid(cx @ w_r + b_r)
        if cell.reset_after:
            w_cc, w_cx = w_c[:units], w_c[units:]
            c_tilde = np.tanh(x[:, t] @ w_cx + b_c[0] + gamma_r * (c @ w_cc + b_c[1]))
        else:
            c_tilde = np.tanh(np.concatenate([gamma_r * c, x[:, t]], axis=1) @ w_c + b_c)
        c = gamma_u * c_tilde + (1 - gamma_u) * c
        out.append(c)
    return np.stack(out, axis=1)
