package dev.nann.eval;

import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;

/** A test scorer over a real one: the same users, batches and dimension; subclasses write their own scores. */
abstract class WrappedScorer implements Scorer {
  final Scorer inner;

  WrappedScorer(Scorer inner) {
    this.inner = inner;
  }

  @Override
  public int itemDim() {
    return inner.itemDim();
  }

  @Override
  public int maxBatch() {
    return inner.maxBatch();
  }

  @Override
  public UserState user(UserFeatures features) {
    return inner.user(features);
  }

  @Override
  public ScoreBatch newBatch() {
    return inner.newBatch();
  }

  @Override
  public void close() {
  }
}
