package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.engine.LoadedIndex;
import dev.nann.engine.QueryExecutor;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.Descent;
import dev.nann.search.DescentChooser;
import dev.nann.search.SearchMode;
import dev.nann.search.Searcher;
import dev.nann.shard.ShardAssignment;
import dev.nann.shard.ShardMerge;
import dev.nann.shard.ShardPlan;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code nann eval --shards S}: the same users and modes as {@link Evaluator}, on an item-sharded
 * index as serving scatters and gathers it. Each query runs the user network once (features from
 * the whole corpus), then each shard's walk through serving's {@link QueryExecutor} with
 * {@link ShardPlan}'s per-shard k and parameters, one shard after the other, and
 * {@link ShardMerge#topK} merges the answers. The merged answer is measured against the unsharded
 * brute-force reference ({@link Evaluator}'s, over the whole corpus, from its reference cache when
 * allowed). Items scored are the sum over shards; a query's latency is all its shards in sequence
 * (plus the user network and the merge), and the slowest shard's time is reported beside it.
 *
 * <p>Mode brute asks every shard for the full k (exact per shard, so the merge is exactly the
 * unsharded brute force); the other modes ask each shard for the plan's shardK with its walk.
 */
public final class ShardedEvaluation {
  /** Builds (or loads) the graph over one shard's items. */
  @FunctionalInterface
  public interface ShardBuilder {
    HnswIndex build(Corpus part) throws Exception;
  }

  private final Evaluator reference;
  private final Corpus corpus;
  private final Scorer scorer;
  private final List<LoadedIndex> shards;
  private final PrintStream progress;
  private final Map<ModeReport, Map<String, Object>> extras = new IdentityHashMap<>();

  /**
   * @param reference the unsharded evaluator over the same corpus and scorer: its brute force is the reference
   * @param shardIndexes shard s's graph, over exactly the items {@link ShardAssignment} puts in s
   */
  public ShardedEvaluation(Evaluator reference, Corpus corpus, Scorer scorer, List<HnswIndex> shardIndexes,
                           PrintStream progress) {
    int total = 0;
    for (HnswIndex s : shardIndexes) {
      total += s.size();
    }
    if (total != corpus.size()) {
      throw new IllegalArgumentException("the shards hold " + total + " items, the corpus " + corpus.size());
    }
    this.reference = reference;
    this.corpus = corpus;
    this.scorer = scorer;
    this.progress = progress;
    this.shards = new ArrayList<>();
    for (HnswIndex s : shardIndexes) {
      shards.add(new LoadedIndex(s.meta().version(), s, ItemIdLookup.of(s), 0));
    }
  }

  /**
   * Splits the corpus by {@link ShardAssignment#shardOf}: part s holds shard s's items in corpus
   * order and no users, named after the corpus with "#shard s/S" (so each part's snapshot has its
   * own cache key).
   */
  public static List<Corpus> split(Corpus c, int shards) {
    ShardAssignment.check(shards);
    int[] of = new int[c.size()];
    int[] counts = new int[shards];
    for (int i = 0; i < c.size(); i++) {
      of[i] = ShardAssignment.shardOf(c.itemIds()[i], shards);
      counts[of[i]]++;
    }
    int d = c.dim();
    float[][] emb = new float[shards][];
    long[][] ids = new long[shards][];
    for (int s = 0; s < shards; s++) {
      emb[s] = new float[counts[s] * d];
      ids[s] = new long[counts[s]];
    }
    int[] fill = new int[shards];
    for (int i = 0; i < c.size(); i++) {
      int s = of[i];
      System.arraycopy(c.embeddings(), i * d, emb[s], fill[s] * d, d);
      ids[s][fill[s]++] = c.itemIds()[i];
    }
    List<Corpus> parts = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      parts.add(new Corpus(c.name() + "#shard" + s + "/" + shards, emb[s], ids[s], d, List.of()));
    }
    return parts;
  }

  /** The shard graphs of {@code c}: {@link #split} and {@code builder} on each part. */
  public static List<HnswIndex> build(Corpus c, int shards, ShardBuilder builder) throws Exception {
    List<HnswIndex> out = new ArrayList<>();
    for (Corpus part : split(c, shards)) {
      out.add(builder.build(part));
    }
    return out;
  }

  /** The JSON fields a report of {@link #run} adds to {@link ModeReport#toJson} (empty for another report). */
  public Map<String, Object> extra(ModeReport report) {
    return extras.getOrDefault(report, Map.of());
  }

  /** Runs every mode of {@code cfg} over the shards; brute force (exact per shard, merged) last. */
  public List<ModeReport> run(Evaluator.Config cfg) {
    List<Corpus.User> users = reference.users(cfg);
    int kEff = Math.min(cfg.k(), corpus.size());
    ShardPlan plan = ShardPlan.of(shards.size(), kEff, cfg.params());
    if (progress != null) {
      progress.printf("[eval] %d shards (%s items); per shard k=%d, %s%n", shards.size(),
          Arrays.toString(shards.stream().mapToInt(l -> l.index().size()).toArray()), plan.shardK(),
          plan.shardParams().walk());
    }
    Map<SearchMode, QueryRunner.Results> measured = new java.util.EnumMap<>(SearchMode.class);
    for (SearchMode mode : cfg.modes()) {
      if (mode == SearchMode.DR) {
        throw new IllegalArgumentException("mode dr is not evaluated on a sharded index (--shards > 1)");
      }
      if (mode != SearchMode.BRUTE) {
        measured.put(mode, runMode(mode, users, cfg, plan));
      }
    }
    if (cfg.modes().contains(SearchMode.BRUTE)) {
      measured.put(SearchMode.BRUTE, runMode(SearchMode.BRUTE, users, cfg, plan));
    }
    QueryExecutor.Answer[] exact = reference.exactAnswers(cfg);
    List<ModeReport> out = new ArrayList<>();
    for (SearchMode mode : cfg.modes()) {
      QueryRunner.Results r = measured.get(mode);
      RetrievalMetrics m = QueryRunner.metrics(r.answers, exact, users, corpus);
      ModeReport report = r.report(mode, m, corpus.size(), kEff, cfg.threads(), cfg.params(),
          cfg.params().describe(mode));
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("shards", shards.size());
      extra.put("shard_k", mode == SearchMode.BRUTE ? kEff : plan.shardK());
      if (mode == SearchMode.NANN) {
        extra.put("shard_width", plan.shardParams().walk().width());
        extra.put("shard_budget", plan.shardParams().walk().budget());
      }
      long[] maxShard = r.maxShardNanos.clone();
      Arrays.sort(maxShard);
      extra.put("max_shard_p50_ms", Math.round(QueryRunner.percentile(maxShard, 0.50) / 1e6 * 1e5) / 1e5);
      extra.put("max_shard_p99_ms", Math.round(QueryRunner.percentile(maxShard, 0.99) / 1e6 * 1e5) / 1e5);
      extras.put(report, extra);
      out.add(report);
      if (progress != null) {
        progress.printf("[eval] %s over %d shards: coverage %.4f, %.0f items scored per query (%.5f of the corpus), "
                + "slowest shard p50 %s ms p99 %s ms%n", mode, shards.size(), report.coverage(), report.scoredPerQuery(),
            report.scoredFraction(), extra.get("max_shard_p50_ms"), extra.get("max_shard_p99_ms"));
      }
    }
    return out;
  }

  /** One query: the user network once, every shard's walk in turn, the merge. */
  private void query(QueryRunner.Results run, int q, Corpus.User user, Searcher[] searchers, DescentChooser descents,
                     QueryExecutor executor, QueryExecutor.Query query, int k) {
    long t0 = System.nanoTime();
    UserFeatures f = corpus.features(user);
    int s = shards.size();
    long[][] items = new long[s][];
    float[][] scores = new float[s][];
    try (UserState u = scorer.user(f)) {
      long t1 = System.nanoTime();
      long slowest = 0;
      long scorerNanos = t1 - t0;
      int scored = 0;
      int calls = 0;
      long gather = 0;
      long expand = 0;
      for (int i = 0; i < s; i++) {
        long ts = System.nanoTime();
        QueryExecutor.Answer a = executor.run(searchers[i], shards.get(i), scorer, descents, u, f, query);
        slowest = Math.max(slowest, System.nanoTime() - ts);
        items[i] = a.items();
        scores[i] = a.scores();
        scored += a.scored();
        calls += a.walk().scoreCalls();
        scorerNanos += a.walk().scorerNanos();
        gather += a.walk().gatherNanos();
        expand += a.walk().expandNanos();
      }
      ShardMerge.Merged merged = ShardMerge.topK(items, scores, k);
      run.answers[q] = new QueryExecutor.Answer(merged.items(), merged.scores(), scored, null);
      run.latencyNanos[q] = System.nanoTime() - t0;
      run.userNanos[q] = t1 - t0;
      run.scorerNanos[q] = scorerNanos;
      run.scored[q] = scored;
      run.calls[q] = calls;
      run.gatherNanos[q] = gather;
      run.expandNanos[q] = expand;
      run.maxShardNanos[q] = slowest;
    }
  }

  private QueryRunner.Results runMode(SearchMode mode, List<Corpus.User> users, Evaluator.Config cfg, ShardPlan plan) {
    // brute force is exact per shard with the full k, so its merge is the unsharded exact answer
    QueryExecutor.Query query = mode == SearchMode.BRUTE
        ? QueryExecutor.Query.of(mode, plan.k(), cfg.params())
        : QueryExecutor.Query.of(mode, plan.shardK(), plan.shardParams());
    // one chooser for the model across shards, settled (untimed) before the run, as Evaluator does
    DescentChooser descents = new DescentChooser();
    if (mode == SearchMode.NANN && cfg.params().walk().descent() == Descent.AUTO) {
      Searcher[] searchers = searchers();
      QueryExecutor executor = new QueryExecutor(null, 0);
      QueryRunner.Results scratch = new QueryRunner.Results(1);
      QueryRunner.settle(descents, q -> query(scratch, 0, users.get(q % users.size()), searchers, descents, executor,
          query, plan.k()));
    }
    QueryRunner.Results results = QueryRunner.run(mode, users, cfg, "eval-shards-" + mode.id(),
        String.format("%-5s x%d shards", mode, shards.size()), progress, () -> {
          Searcher[] searchers = searchers();
          QueryExecutor executor = new QueryExecutor(null, 0);
          return (run, q, user) -> query(run, q, user, searchers, descents, executor, query, plan.k());
        });
    results.settledBy(descents);
    return results;
  }

  private Searcher[] searchers() {
    Searcher[] searchers = new Searcher[shards.size()];
    for (int i = 0; i < searchers.length; i++) {
      searchers[i] = new Searcher(shards.get(i).index(), scorer);
    }
    return searchers;
  }
}
