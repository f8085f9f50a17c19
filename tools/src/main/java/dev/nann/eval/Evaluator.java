package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.dr.PathModel;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import dev.nann.engine.LoadedIndex;
import dev.nann.engine.QueryExecutor;
import dev.nann.search.Descent;
import dev.nann.search.DescentChooser;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.search.Searcher;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Runs the evaluation behind {@code nann eval}: the same queries through each requested
 * {@link SearchMode}, always with a brute-force pass as the reference B_u for coverage and
 * recall-all. Every query goes through serving's {@link QueryExecutor}, so what is measured here is
 * what the serving engine runs.
 */
public final class Evaluator {
  /**
   * @param modes modes to report
   * @param params what each mode may spend (the walk's width and budget, Beam's ef/T, HNSW's ef_0)
   * @param k M, the number of items returned
   * @param queries how many users to query (capped by the corpus)
   * @param threads query threads (one searcher each)
   * @param seed picks the users
   * @param warmup untimed queries each query thread runs before a mode is measured (the JIT compiles
   *     the walk during the first ones); brute force runs at most one, a single exact query already
   *     runs its loop over the whole corpus
   */
  public record Config(List<SearchMode> modes, SearchParams params, int k, int queries, int threads, long seed,
                       int warmup) {
    public Config {
      if (warmup < 0) {
        throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
      }
      if (k < 1) {
        throw new IllegalArgumentException("k must be >= 1, got " + k);
      }
      if (queries < 1 || threads < 1) {
        throw new IllegalArgumentException("queries and threads must be >= 1");
      }
      modes = List.copyOf(modes);
    }
  }

  private final HnswIndex index;
  private final Scorer scorer;
  private final Corpus corpus;
  private final PrintStream progress;
  private QueryRunner.Results bruteRun;
  private String bruteKey;
  private PathModel dr;
  private int drBeam;
  private final LoadedIndex loaded;
  private ReferenceCache referenceCache;
  private boolean explainMisses;

  /**
   * Enables mode {@code dr}: Deep Retrieval's beam search over {@code model} (width {@code beam})
   * gathers the items of the best paths, and the scorer reranks exactly those.
   */
  public Evaluator withDeepRetrieval(PathModel model, int beam) {
    this.dr = model;
    this.drBeam = beam;
    return this;
  }

  /**
   * Keeps the brute-force reference of each run in {@code dir} (one file per corpus and model, user
   * sample and k; as item ids, so it holds for any graph built over the corpus), so a sweep of
   * budgets re-run later does not pay for the exact pass again. The reference is only read when
   * {@code brute} is not among the modes (its QPS is then measured).
   *
   * @param dir directory for reference files
   * @param modelKey identifies the corpus's items and the scorer's weights (e.g. a digest of both)
   */
  public Evaluator withReferenceCache(Path dir, String modelKey) {
    this.referenceCache = new ReferenceCache(dir, modelKey, progress);
    return this;
  }

  public Evaluator(HnswIndex index, Scorer scorer, Corpus corpus, PrintStream progress) {
    if (corpus.size() != index.size()) {
      throw new IllegalArgumentException("corpus has " + corpus.size() + " items, index " + index.size());
    }
    this.index = index;
    this.scorer = scorer;
    this.corpus = corpus;
    this.progress = progress;
    this.loaded = new LoadedIndex(index.meta().version(), index, dev.nann.graph.ItemIdLookup.of(index), 0);
  }

  /** Runs every mode on the same users; brute force, the reference, last. */
  public List<ModeReport> run(Config cfg) {
    List<Corpus.User> users = users(cfg);
    int kEff = Math.min(cfg.k(), index.size() - index.deletedCount());
    // The searches run first and the exact pass after them: its minutes of full load are not
    // allowed to precede (and perturb) their timings. It is only needed for the metrics below.
    java.util.Map<SearchMode, QueryRunner.Results> measured = new java.util.EnumMap<>(SearchMode.class);
    for (SearchMode mode : cfg.modes()) {
      if (mode != SearchMode.BRUTE) {
        measured.put(mode, runMode(mode, users, cfg, kEff));
      }
    }
    QueryRunner.Results brute = exact(users, cfg, kEff);
    AnswerVariety exactVariety = AnswerVariety.of(brute.answers);   // the model's own answers, whatever the walk
    if (progress != null && exactVariety.sameList(kEff)) {
      progress.println(exactVariety.warning(kEff));
    }
    List<ModeReport> out = new ArrayList<>();
    for (SearchMode mode : cfg.modes()) {
      QueryRunner.Results r = mode == SearchMode.BRUTE ? brute : measured.get(mode);
      RetrievalMetrics m = QueryRunner.metrics(r.answers, brute.answers, users, corpus);
      if (progress != null) {
        progress.println((r == brute ? exactVariety : AnswerVariety.of(r.answers)).line(mode));
      }
      if (explainMisses && mode == SearchMode.NANN && progress != null) {
        new MissExplainer(index, scorer, corpus, loaded.ids(), progress)
            .print(users, cfg.params().walk().withDescent(r.walked(cfg.params().walk().descent())), kEff, brute.answers);
      }
      String params = mode == SearchMode.DR ? "B=" + drBeam : cfg.params().describe(mode);
      out.add(r.report(mode, m, index.size(), kEff, cfg.threads(), cfg.params(), params));
    }
    return out;
  }

  /** The exact top-k of these users: the same for every budget, so measured (or read) once per users and k. */
  private QueryRunner.Results exact(List<Corpus.User> users, Config cfg, int k) {
    String key = users.size() + "/" + cfg.seed() + "/" + k;
    if (!key.equals(bruteKey)) {
      bruteRun = reference(users, cfg, k);
      bruteKey = key;
    }
    return bruteRun;
  }

  /** The exact top-k of cfg's users over the whole corpus: the reference of a sharded run too. */
  QueryExecutor.Answer[] exactAnswers(Config cfg) {
    return exact(users(cfg), cfg, Math.min(cfg.k(), index.size() - index.deletedCount())).answers;
  }

  List<Corpus.User> users(Config cfg) {
    List<Corpus.User> users = new ArrayList<>(corpus.users());
    Collections.shuffle(users, new Random(cfg.seed()));
    users = users.subList(0, Math.min(cfg.queries(), users.size()));
    if (users.isEmpty()) {
      throw new IllegalArgumentException("the corpus has no evaluation users");
    }
    return users;
  }

  private static double coverage(QueryRunner.Results r, QueryRunner.Results brute) {
    RetrievalMetrics m = new RetrievalMetrics();
    for (int q = 0; q < r.answers.length; q++) {
      m.add(r.answers[q].items(), brute.answers[q].items(), new long[0]);
    }
    return m.coverage();
  }

  /** How much less than the wide descent the narrow one may cover and still be recommended. */
  static final double DESCENT_TIE = 0.002;

  /**
   * Finds the smallest beam width (k, then 1.5x steps up to 16 k or 8 times the configured width)
   * with which the default walk, run to convergence, covers {@code target} of the exact top-k for these users, and the budget that lets
   * every one of their queries converge ({@link #recommendedBudget}). Prints
   * the coverage at the configured width and budget beside it, then measures the other {@link Descent}
   * at the width found and names the one that pays, and returns the findings as a JSON row
   * ({@code "mode": "recommendation"}). Call after {@link #run} with the same users and k.
   */
  public java.util.Map<String, Object> recommend(Config cfg, double target, PrintStream out) {
    List<Corpus.User> users = users(cfg);
    int k = Math.min(cfg.k(), index.size() - index.deletedCount());
    QueryRunner.Results brute = exact(users, cfg, k);
    SearchParams configured = cfg.params();
    double atConfigured = coverage(runMode(SearchMode.NANN, users, quiet(cfg, configured), k), brute);
    int cap = index.size();
    int widest = Math.max(16 * k, 8 * configured.walk().width());
    java.util.Map<String, Object> row = new java.util.LinkedHashMap<>();
    row.put("mode", "recommendation");
    row.put("target_coverage", target);
    row.put("k", k);
    row.put("width", configured.walk().width());
    row.put("budget", configured.walk().budget());
    row.put("coverage", Math.round(atConfigured * 1e5) / 1e5);
    double best = 0;
    int bestWidth = 0;
    QueryRunner.Results bestRun = null;
    for (double w = k; ; w = Math.min(w * 1.5, widest)) {
      int width = (int) Math.ceil(w);
      QueryRunner.Results run = runMode(SearchMode.NANN, users, quiet(cfg, configured.withBudget(cap).withWidth(width)), k);
      double c = coverage(run, brute);
      if (c > best) {
        best = c;
        bestWidth = width;
        bestRun = run;
      }
      if (c + 1e-9 >= target) {              // coverage is a ratio of counts: 0.99 exactly must count
        int budget = budgetFor(run);
        out.printf("%n[eval] nann at %s covers %.4f of the exact top-%d. To cover %.2f on this model and corpus: "
                + "width %d, budget %d (--width %d --budget %d; serving: search.width, search.budget%s), %.2f%% of the "
                + "corpus at most per query%n", configured.walk(), atConfigured, k, target, width, budget, width, budget,
            maxBudgetNote(budget), 100.0 * budget / index.size());
        row.put("recommended_width", width);
        row.put("recommended_budget", budget);
        row.put("recommended_coverage", Math.round(c * 1e5) / 1e5);
        compareDescents(users, brute, cfg, k, configured.withBudget(cap).withWidth(width), c, run, target, true, row,
            out);
        return row;
      }
      if (width >= widest) {
        break;
      }
    }
    out.printf("%n[eval] nann at %s covers %.4f of the exact top-%d; no width up to %d reaches %.2f (best %.4f at width "
            + "%d): the graph or the scorer's surface limits this model here, see --graph-check and --explain-misses%n",
        configured.walk(), atConfigured, k, widest, target, best, bestWidth);
    double together = AnswerLocality.of(index, loaded.ids(), brute.answers);
    out.printf("[eval] %.0f%% of a user's exact top-%d items have another of them among their level-0 graph neighbours: %s%n",
        100 * together, k, AnswerLocality.meaning(together));
    row.put("answer_locality", Math.round(together * 1e4) / 1e4);
    row.put("recommended_width", null);
    row.put("best_coverage", Math.round(best * 1e5) / 1e5);
    row.put("best_width", bestWidth);
    if (bestRun != null) {
      compareDescents(users, brute, cfg, k, configured.withBudget(cap).withWidth(bestWidth), best, bestRun, target,
          false, row, out);
    }
    return row;
  }

  /**
   * What serving needs besides search.budget for a budget above its default cap: a job refuses to
   * start with search.budget over search.max-budget, and cuts a request's own budget to it.
   */
  static String maxBudgetNote(int budget) {
    return budget > dev.nann.engine.EngineConfig.DEFAULT_MAX_BUDGET
        ? ", and search.max-budget >= " + budget + " (its default is " + dev.nann.engine.EngineConfig.DEFAULT_MAX_BUDGET
            + ")" : "";
  }

  /** Enough budget for every query of a run to converge: {@link #recommendedBudget} of the most items one scored. */
  private int budgetFor(QueryRunner.Results run) {
    return recommendedBudget(Arrays.stream(run.scored).max().orElse(0), index.size());
  }

  /**
   * The budget that lets every query converge: the most items one scored, rounded up to two
   * significant digits (17,340 to 18,000; 412 to 420), never above the corpus.
   */
  static int recommendedBudget(int mostScored, int corpusSize) {
    long step = 1;
    while (mostScored >= 100 * step) {
      step *= 10;
    }
    long rounded = (mostScored + step - 1) / step * step;
    return (int) Math.min(rounded, Math.max(corpusSize, mostScored));
  }

  /**
   * The descent that pays on a model and corpus, from both measured at one width: the narrow one when
   * it covers as much (the target, or within {@link #DESCENT_TIE} of the wide one's coverage) with no
   * more items, or clearly more where the wide one falls short of the target; the wide one otherwise.
   */
  static Descent pickDescent(double narrowCoverage, double narrowItems, double wideCoverage, double wideItems,
                             double target) {
    if (wideCoverage < target && narrowCoverage > wideCoverage + DESCENT_TIE) {
      return Descent.NARROW;
    }
    // the tie forgives noise against the wide one's coverage where that falls short of the target too,
    // never against the target: a narrow run under it must not be recommended where the wide one reaches it
    boolean asMuch = wideCoverage >= target ? narrowCoverage + 1e-9 >= target
        : narrowCoverage + 1e-9 >= wideCoverage - DESCENT_TIE;
    return asMuch && narrowItems <= wideItems ? Descent.NARROW : Descent.WIDE;
  }

  /**
   * Runs the other {@link Descent} at the width just found and says which one this model and corpus
   * should use: the narrow one when it covers as much (the target, or within {@link #DESCENT_TIE} of
   * the best the configured one reached) with fewer items, the wide one otherwise.
   *
   * @param reachedTarget whether {@code found} covers the target (its budget is then recommended too)
   */
  private void compareDescents(List<Corpus.User> users, QueryRunner.Results brute, Config cfg, int k,
                               SearchParams found, double coverage, QueryRunner.Results run, double target,
                               boolean reachedTarget, java.util.Map<String, Object> row, PrintStream out) {
    Descent mine = found.walk().descent();
    boolean auto = mine == Descent.AUTO;
    if (auto) {
      // the run walked what the model's first queries settled on: compare that with the other one
      mine = run.walked(mine);
      found = found.withDescent(mine);
      row.put("auto_descent", mine.id());
    }
    Descent other = mine == Descent.WIDE ? Descent.NARROW : Descent.WIDE;
    QueryRunner.Results altRun = runMode(SearchMode.NANN, users, quiet(cfg, found.withDescent(other)), k);
    double altCoverage = coverage(altRun, brute);
    double items = Arrays.stream(run.scored).average().orElse(0);
    double altItems = Arrays.stream(altRun.scored).average().orElse(0);
    double narrowCoverage = mine == Descent.NARROW ? coverage : altCoverage;
    double wideCoverage = mine == Descent.NARROW ? altCoverage : coverage;
    double narrowItems = mine == Descent.NARROW ? items : altItems;
    double wideItems = mine == Descent.NARROW ? altItems : items;
    Descent pick = pickDescent(narrowCoverage, narrowItems, wideCoverage, wideItems, target);
    // the budget recommended above let the measured descent converge; the other one has its own
    int pickBudget = pick == other && reachedTarget ? budgetFor(altRun) : 0;
    out.printf("[eval] descent at width %d: %s covers %.4f at %.0f items a query, %s %.4f at %.0f. This model and "
            + "corpus: search.descent=%s (--descent %s%s)%s%n", found.walk().width(), mine.id(), coverage, items,
        other.id(), altCoverage, altItems, pick.id(), pick.id(),
        pickBudget > 0 ? " --budget " + pickBudget + "; serving: search.budget " + pickBudget + maxBudgetNote(pickBudget)
            : "",
        pick == Descent.WIDE ? " - the wide descent finds best items the narrow one misses, or as many with fewer items"
            : narrowItems <= wideItems ? " - its best items lie in one region, and the narrow descent reaches them with "
            + "fewer items" : " - the narrow descent covers more of the exact answers");
    if (auto) {
      out.printf("[eval] search.descent=auto (the default) settled on %s from this model's first queries%s%n", mine.id(),
          mine == pick ? ", the same" : ", where the exact answers favour " + pick.id()
              + ": set search.descent=" + pick.id() + " for this model");
    }
    row.put(other.id() + "_descent_coverage", Math.round(altCoverage * 1e5) / 1e5);
    row.put(other.id() + "_descent_scored_per_query", Math.round(altItems));
    row.put("scored_per_query", Math.round(items));
    row.put("recommended_descent", pick.id());
    if (pickBudget > 0) {
      row.put("recommended_budget_" + other.id(), pickBudget);
    }
  }

  private static Config quiet(Config cfg, SearchParams params) {
    return new Config(List.of(SearchMode.NANN), params, cfg.k(), cfg.queries(), cfg.threads(), cfg.seed(),
        Math.min(cfg.warmup(), 3));
  }

  /**
   * Warns when the scorer barely tells items apart: for up to 20 evaluation users, 512 random items
   * are scored; when the spread of their scores is at float32's rounding for their size for most
   * users (check-model's rule, {@link dev.nann.scorer.ModelCheck#nearConstant}), coverage and recall
   * figures say nothing about the walk, and serving would answer by noise. Returns whether it warned.
   */
  public boolean warnIfNearConstant(PrintStream out) {
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(17);
    dev.nann.scorer.ScoreBatch batch = scorer.newBatch();
    int n = Math.min(Math.min(512, batch.capacity()), index.size());
    int users = Math.min(20, corpus.users().size());
    int flat = 0;
    int[] nodes = new int[n];
    for (int u = 0; u < users; u++) {
      for (int i = 0; i < n; i++) {
        nodes[i] = rnd.nextInt(index.size());
      }
      index.embeddings().gatherRows(nodes, 0, n, batch.stage(), batch.items());
      try (UserState user = scorer.user(corpus.features(corpus.users().get(u)))) {
        scorer.score(user, batch, n);
      }
      double sum = 0;
      double sumSq = 0;
      float maxAbs = 0;
      for (int i = 0; i < n; i++) {
        float v = batch.scores()[i];
        sum += v;
        sumSq += (double) v * v;
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      double mean = sum / n;
      double std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
      if (dev.nann.scorer.ModelCheck.nearConstant(std, maxAbs)) {
        flat++;
      }
    }
    if (users > 0 && flat * 2 > users) {
      out.printf("%n[eval] WARNING: the scorer is near-constant across items for %d of %d users (score spread at float "
          + "noise level over %d random items): its rankings are noise, so coverage here says nothing about the walk. "
          + "Check the model's export (score.onnx inputs) or its training.%n", flat, users, n);
      return true;
    }
    return false;
  }

  /**
   * Prints where the default walk's misses lie (the exact top-k items it did not return): by rank in
   * the exact list, how far above its last answer they score, and whether the walk scored any of
   * their level-0 neighbours, i.e. whether it came near them at all. Re-runs the queries untimed.
   */
  public Evaluator explainMisses(boolean on) {
    this.explainMisses = on;
    return this;
  }

  /** The brute-force run: read from the reference cache when allowed, else measured (and cached). */
  private QueryRunner.Results reference(List<Corpus.User> users, Config cfg, int k) {
    Path file = referenceCache == null ? null : referenceCache.file(users.size(), cfg.seed(), k);
    if (file != null && !cfg.modes().contains(SearchMode.BRUTE)) {
      QueryExecutor.Answer[] cached = referenceCache.read(file, users.size(), loaded.ids(), index.size());
      if (cached != null) {
        if (progress != null) {
          progress.println("[eval] brute-force reference read from " + file + " (add mode brute to measure it)");
        }
        QueryRunner.Results run = new QueryRunner.Results(users.size());
        System.arraycopy(cached, 0, run.answers, 0, cached.length);
        return run;
      }
    }
    QueryRunner.Results run = runMode(SearchMode.BRUTE, users, cfg, k);
    if (file != null) {
      referenceCache.write(file, run.answers);
    }
    return run;
  }

  private QueryRunner.Results runMode(SearchMode mode, List<Corpus.User> users, Config cfg, int k) {
    DescentChooser descents = settledDescent(mode, users, cfg, k);
    QueryRunner.Results results = QueryRunner.run(mode, users, cfg, "eval-" + mode.id(), String.format("%-5s", mode),
        progress, () -> {
      Searcher searcher = new Searcher(index, scorer);
      QueryExecutor executor = new QueryExecutor(dr, drBeam);
      QueryExecutor.Query query = QueryExecutor.Query.of(mode, k, cfg.params());
      return (run, q, user) -> {
        long t0 = System.nanoTime();
        dev.nann.scorer.UserFeatures f = corpus.features(user);
        try (UserState u = scorer.user(f)) {
          long t1 = System.nanoTime();
          QueryExecutor.Answer a = executor.run(searcher, loaded, scorer, descents, u, f, query);
          run.answers[q] = a;
          run.latencyNanos[q] = System.nanoTime() - t0;
          run.scorerNanos[q] = (t1 - t0) + a.walk().scorerNanos();
          run.userNanos[q] = t1 - t0;
          run.scored[q] = a.scored();
          run.calls[q] = a.walk().scoreCalls();
          run.gatherNanos[q] = a.walk().gatherNanos();
          run.expandNanos[q] = a.walk().expandNanos();
        }
      };
    });
    results.settledBy(descents);
    return results;
  }

  /**
   * The model's descent chooser for a run. With descent auto it is settled before the run is
   * measured, by the run's first users' queries (untimed, one thread), as serving settles it with a
   * model's first requests: the figures are the steady state, and the learning queries' cost (both
   * descents, for {@link DescentChooser#SAMPLES} queries after each model load) is stated in the docs.
   */
  private DescentChooser settledDescent(SearchMode mode, List<Corpus.User> users, Config cfg, int k) {
    DescentChooser descents = progress == null ? new DescentChooser()
        : new DescentChooser(choice -> progress.printf("[eval] %s, descent auto: %s%n", cfg.params().walk(), choice));
    if (mode != SearchMode.NANN || cfg.params().walk().descent() != Descent.AUTO) {
      return descents;
    }
    Searcher searcher = new Searcher(index, scorer);
    QueryExecutor executor = new QueryExecutor(dr, drBeam);
    QueryExecutor.Query query = QueryExecutor.Query.of(mode, k, cfg.params());
    QueryRunner.settle(descents, q -> {
      dev.nann.scorer.UserFeatures f = corpus.features(users.get(q % users.size()));
      try (UserState u = scorer.user(f)) {
        executor.run(searcher, loaded, scorer, descents, u, f, query);
      }
    });
    return descents;
  }
}
