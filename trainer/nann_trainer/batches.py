"""The one mini-batch loop of the trainer: consecutive chunks of ``range(n)``, in order or shuffled.

Every command that scores, encodes, samples or trains in chunks iterates these, so chunk
boundaries (and with them every seed and every RNG call) are the same everywhere:

    for sl in batches(len(users), 128):          # slices start:stop, the last one may be shorter
        scores = score(users[sl])
    for idx in shuffled_batches(len(examples), 512, rng):   # one rng.permutation per pass
        step(examples[idx])
"""


def batches(n, size):
    """Slices ``start:stop`` covering ``range(n)`` in order, ``size`` rows each (the last one may be
    shorter; none when ``n`` is 0). ``sl.stop - sl.start`` is the chunk's length."""
    if size <= 0:
        raise ValueError(f"batch size must be > 0, got {size}")
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def shuffled_batches(n, size, rng):
    """Row indices of ``range(n)`` in a random order, ``size`` at a time (numpy int arrays).

    The order is one ``rng.permutation(n)`` (a numpy Generator), drawn when iteration starts, so a
    training loop makes exactly the RNG calls it would with the permutation written out in place.
    """
    order = rng.permutation(n)
    for sl in batches(n, size):
        yield order[sl]
