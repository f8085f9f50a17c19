package dev.nann.search;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a query finds its items. A request names one by {@link #id()}; {@code ./nann eval} reports
 * each by the same name, and serving and evaluation dispatch on this type, never on a string.
 */
public enum SearchMode {
  /**
   * The default: batched best-first over the graph (the top searched layer scored in one batch,
   * then on each layer the best not-yet-expanded nodes of the beam expanded together, so every
   * runtime call scores a few hundred items), until no unexpanded node beats the beam's worst or
   * the budget of items scored is spent. See {@link BatchedBestFirst}.
   */
  NANN("nann", "batched best-first walk (width, budget of items scored)"),
  /** NANN's Beam-retrieval as published (Alg. 1 + 2): a fixed number of breadth-first steps per layer ({@link BeamRetrieval}). */
  BEAM("beam", "Beam-retrieval of the NANN paper (ef and T per layer)"),
  /** HNSW-retrieval (SL2G): greedy upper layers, best-first at layer 0, one node's neighbours per call ({@link HnswRetrieval}). */
  HNSW("hnsw", "HNSW-retrieval, one node's neighbours per score call (ef0)"),
  /** Exact top-k: every live item scored. */
  BRUTE("brute", "exact: every item scored"),
  /** Deep Retrieval: the items of the user's most probable paths, scored exactly. */
  DR("dr", "Deep Retrieval paths, reranked by the scorer");

  private final String id;
  private final String description;

  SearchMode(String id, String description) {
    this.id = id;
    this.description = description;
  }

  /** The mode serving answers with when a request names none. */
  public static final SearchMode DEFAULT = NANN;

  /** The name requests, configuration and reports use. */
  public String id() {
    return id;
  }

  /** One line for help texts. */
  public String description() {
    return description;
  }

  /** Whether the mode walks the graph (its cost is set by a budget, not by the corpus size). */
  public boolean walksGraph() {
    return this == NANN || this == BEAM || this == HNSW;
  }

  /**
   * The mode named {@code name} (case-insensitive).
   *
   * @throws IllegalArgumentException naming the known modes when there is none of that name
   */
  public static SearchMode parse(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    for (SearchMode m : values()) {
      if (m.id.equals(n)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown mode '" + name + "': expected one of " + names());
  }

  /** The known names, comma-separated, in declaration order. */
  public static String names() {
    return Arrays.stream(values()).map(SearchMode::id).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return id;
  }
}
