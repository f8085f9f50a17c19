package dev.nann.search;

import java.util.Locale;

/**
 * How the default walk ({@link SearchMode#NANN}) comes down the upper layers of the graph to layer 0,
 * where it spends nearly all of its items.
 *
 * <p>The two differ on what a scorer's surface looks like. A user whose best items lie in several
 * separate regions (several tastes) needs the walk to reach layer 0 in each of them, which {@link
 * #WIDE} pays for with a fixed cost of items on the upper layers (on a 1M-item graph, ~600–900 at the
 * default width). A scorer whose best items for a user lie in one region gains nothing from that cost:
 * {@link #NARROW} comes down as HNSW does, and at equal items scored covers what HNSW-retrieval does.
 * {@link #AUTO}, the default, lets each model's first queries find out; {@code ./nann eval} measures
 * both on a model and corpus against exact answers and says which one pays (docs/search.md).
 */
public enum Descent {
  /**
   * The lowest layer with at most W nodes is scored whole (many entry points spread over the
   * catalogue), then each layer down to layer 1 is walked best-first with a beam of W / 4.
   */
  WIDE,
  /** HNSW's descent: from the top layer's entry point, greedy (a beam of one) down to layer 1. */
  NARROW,
  /**
   * Whichever of the two pays for the model being served: its first queries walk both and answer with
   * the better items, then the model keeps the one they showed ({@link DescentChooser}). The default.
   */
  AUTO;

  /** Beam width of the walk on the upper layers, for a layer-0 width of {@code width}. */
  int upperWidth(int width) {
    return this == WIDE ? Math.max(1, width / 4) : 1;
  }

  /** The setting's spelling: {@code wide}, {@code narrow} or {@code auto}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * @throws IllegalArgumentException naming the accepted values
   */
  public static Descent parse(String s) {
    for (Descent d : values()) {
      if (d.id().equalsIgnoreCase(s == null ? "" : s.trim())) {
        return d;
      }
    }
    throw new IllegalArgumentException("unknown descent '" + s + "': expected auto, wide or narrow");
  }
}
