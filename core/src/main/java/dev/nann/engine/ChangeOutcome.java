package dev.nann.engine;

/**
 * What applying one catalog change did to the fresh set, so that a caller keeping its own copy of
 * the set (serving checkpoints it) keeps exactly what the set holds.
 */
public enum ChangeOutcome {
  /** The set holds this change now: every query sees it until a live snapshot does. */
  HELD,
  /** The live snapshot already says the same: the set holds nothing for the item (an older change of it left). */
  IN_SNAPSHOT,
  /** Older than the change the set holds for the item, or a repeat of it: nothing changed. */
  STALE,
  /**
   * Not taken: the set is full (rebuilds are not keeping up) or the embedding is not of the live
   * index's dimension; it waits for the next snapshot (an older change of the item left the set).
   */
  REFUSED;

  /** Whether the change is served now, by the set or by the live snapshot. */
  public boolean accepted() {
    return this != REFUSED;
  }
}
