package dev.nann.search;

/**
 * What each graph mode may spend on one query: the default walk's width and budget, Beam-retrieval's
 * per-layer ef and T, and HNSW-retrieval's ef_0. One value per serving job (from its settings) or per
 * {@code ./nann eval} budget; a request may lower or raise the walk's budget within the job's cap.
 *
 * @param walk {@link SearchMode#NANN}
 * @param beam {@link SearchMode#BEAM}
 * @param hnswEf ef_0 of {@link SearchMode#HNSW} (raised to k when a query asks for more)
 */
public record SearchParams(WalkParams walk, BeamParams beam, int hnswEf) {
  /** The defaults of every mode. */
  public static final SearchParams DEFAULTS = new SearchParams(WalkParams.DEFAULTS, BeamParams.DEFAULTS, 400);

  public SearchParams {
    if (walk == null || beam == null) {
      throw new IllegalArgumentException("walk and beam parameters are required");
    }
    if (hnswEf < 1) {
      throw new IllegalArgumentException("hnsw ef must be >= 1, got " + hnswEf);
    }
  }

  /** Beam-retrieval's parameters for a query of k items: ef_0 raised to k (it returns at most ef_0). */
  public BeamParams beamFor(int k) {
    if (k <= beam.efBottom()) {
      return beam;
    }
    int[] ef = beam.ef();
    ef[ef.length - 1] = k;
    return new BeamParams(ef, beam.steps());
  }

  /** The same parameters with the walk's budget replaced. */
  public SearchParams withBudget(int budget) {
    return budget == walk.budget() ? this : new SearchParams(walk.withBudget(budget), beam, hnswEf);
  }

  /** The same parameters with the walk's width replaced. */
  public SearchParams withWidth(int width) {
    return width == walk.width() ? this : new SearchParams(walk.withWidth(width), beam, hnswEf);
  }

  /** The same parameters with the walk's descent replaced. */
  public SearchParams withDescent(Descent descent) {
    return descent == walk.descent() ? this : new SearchParams(walk.withDescent(descent), beam, hnswEf);
  }

  /** What the given mode runs with, for reports ("W=400 budget=20000", "ef=[…] T=[…]", "ef0=400"). */
  public String describe(SearchMode mode) {
    return switch (mode) {
      case NANN -> walk.toString();
      case BEAM -> beam.toString();
      case HNSW -> "ef0=" + hnswEf;
      case BRUTE -> "exhaustive";
      case DR -> "paths";
    };
  }
}
