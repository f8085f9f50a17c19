package dev.nann.engine;

/**
 * What applying one catalog change did to the fresh set, so that a caller keeping its own copy of
 * the set (serving checkpoints it) keeps exactly what the set holds.
 */
public enum ChangeOutcome {
  /**
   * The set holds this change now (it joined, or it was already there: another subtask sharing the
   * engine applied it first): every query sees it until a live snapshot does.
   */
  HELD,
  /** The live snapshot already says the same: the set holds nothing for the item (an older change of it left). */
  IN_SNAPSHOT,
  /** Older than the change the set holds for the item: nothing changed. */
  STALE,
  /**
   * Not taken: the set is full (rebuilds are not keeping up; an older change of the item left it)
   * or the embedding is not of the live index's dimension (an older change stays); it waits for the
   * next snapshot.
   */
  REFUSED;

  /** Whether the change is served now, by the set or by the live snapshot. */
  public boolean accepted() {
    return this != REFUSED;
  }
}
