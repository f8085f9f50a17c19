package dev.nann.eval;

import dev.nann.search.Descent;
import dev.nann.search.SearchMode;
import dev.nann.search.WalkParams;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One search mode's figures over an evaluation run (one JSON line of {@code nann eval --json}).
 *
 * @param overhead fraction of query time outside the scorer's own calls (user and score networks)
 * @param userNetFraction fraction of query time in the user network
 * @param scoreNetFraction fraction of query time in score network calls
 * @param gatherFraction fraction of query time copying candidate embeddings into score batches
 * @param expandFraction fraction of query time collecting unvisited neighbours (graph + visited marks)
 * @param descent mode nann's descent as configured (null for other modes)
 * @param autoDescent with descent auto, the one the model's first queries settled on (else null)
 * @param autoGain with descent auto, the share of the best items only the wide descent found, less
 *     the share only the narrow one found, over those queries
 */
public record ModeReport(SearchMode mode, int items, int queries, int k, double coverage, double recallAll,
                         double recallRetrieval, double recallDelta, double scoredFraction, double scoredPerQuery,
                         double scoreCallsPerQuery, double qps, double p50Ms, double p99Ms, double overhead,
                         double userNetFraction, double scoreNetFraction, double gatherFraction,
                         double expandFraction,
                         int threads, String params, Descent descent, Descent autoDescent, double autoGain) {

  /** Field names as the eval JSON contract spells them (see docs/search.md). */
  public Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mode", mode.id());
    m.put("serving_default", mode == SearchMode.DEFAULT
        && (descent == null || descent == WalkParams.DEFAULTS.descent()));
    m.put("items", items);
    m.put("queries", queries);
    m.put("k", k);
    m.put("coverage", round(coverage));
    m.put("recall_all", round(recallAll));
    m.put("recall_retrieval", round(recallRetrieval));
    m.put("recall_delta", round(recallDelta));
    m.put("scored_fraction", round(scoredFraction));
    m.put("scored_per_query", round(scoredPerQuery));
    m.put("score_calls_per_query", round(scoreCallsPerQuery));
    m.put("qps", round(qps));
    m.put("p50_ms", round(p50Ms));
    m.put("p99_ms", round(p99Ms));
    m.put("overhead_fraction", round(overhead));
    m.put("user_net_fraction", round(userNetFraction));
    m.put("score_net_fraction", round(scoreNetFraction));
    m.put("gather_fraction", round(gatherFraction));
    m.put("expand_fraction", round(expandFraction));
    m.put("threads", threads);
    m.put("params", params);
    if (descent != null) {
      m.put("descent", descent.id());
    }
    if (autoDescent != null) {
      m.put("auto_descent", autoDescent.id());
      m.put("auto_wide_gain", round(autoGain));
    }
    return m;
  }

  private static double round(double v) {
    return Math.round(v * 1e5) / 1e5;
  }

  /** Where each mode's query time went, as fractions of its latency: one line per report. */
  public static void printBreakdown(java.io.PrintStream out, java.util.List<ModeReport> reports) {
    out.println();
    out.println("query time breakdown (fractions of per-query latency):");
    out.printf("%-6s %-34s %9s %9s %9s %9s %9s %10s%n", "mode", "params", "user_net", "score_net", "gather", "expand",
        "other", "overhead");
    for (ModeReport r : reports) {
      double other = r.overhead() - r.gatherFraction() - r.expandFraction();
      out.printf("%-6s %-34s %9.3f %9.3f %9.3f %9.3f %9.3f %10.3f%n", r.mode(), r.params(), r.userNetFraction(),
          r.scoreNetFraction(), r.gatherFraction(), r.expandFraction(), other, r.overhead());
    }
  }

  /** The evaluation table: one line per report. */
  public static void printTable(java.io.PrintStream out, java.util.List<ModeReport> reports) {
    out.printf("%-6s %-34s %8s %7s %9s %10s %9s %10s %9s %9s %9s %8s %8s%n", "mode", "params", "items", "queries",
        "coverage", "recall_all", "recall_rt", "recall_d", "scored_f", "qps", "p50_ms", "p99_ms", "overhead");
    for (ModeReport r : reports) {
      out.printf("%-6s %-34s %8d %7d %9.4f %10.4f %9.4f %10.4f %9.5f %9.2f %9.2f %8.2f %8.3f%n", r.mode(), r.params(),
          r.items(), r.queries(), r.coverage(), r.recallAll(), r.recallRetrieval(), r.recallDelta(), r.scoredFraction(),
          r.qps(), r.p50Ms(), r.p99Ms(), r.overhead());
    }
  }
}
