package dev.nann.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.corpus.Corpus;
import dev.nann.eval.Evaluator;
import dev.nann.corpus.FileCorpus;
import dev.nann.eval.GraphQuality;
import dev.nann.eval.ModeReport;
import dev.nann.eval.ShardedEvaluation;
import dev.nann.eval.SnapshotCache;
import dev.nann.corpus.MovieLensCorpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.InnerProductScorer;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.ScorerRuntime;
import dev.nann.search.BeamParams;
import dev.nann.search.Descent;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.search.WalkParams;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nann eval}: build (or reuse) an index over a corpus and compare search modes on the paper's metrics. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = {"Builds an HNSW index over a corpus, runs the same user queries through the serving default walk (nann),",
        "HNSW-retrieval (hnsw) and brute force (or any --modes), exactly as the serving engine runs them, and prints",
        "recall, coverage, scored fraction, QPS and latency, then the budget that reaches coverage 0.99 on this model.",
        "Several budgets in one run: --budget and --hnsw-ef values separated by ',', --ef/--steps sets by ';'."})
public final class EvalCommand implements Callable<Integer> {
  /** Coverage of the exact top-k that {@code --recommend} looks for. */
  static final double TARGET_COVERAGE = 0.99;

  @Option(names = "--corpus", defaultValue = "synthetic:100000",
      description = "synthetic:N (seeded clustered items), synthetic-nested:N (clusters grouped into categories), movielens:PATH (MovieLens-100k directory) or dir:PATH "
          + "(a corpus written by the trainer's train command, with the trained model's e_v and distractors). Default: ${DEFAULT-VALUE}")
  String corpus;

  @Option(names = "--dim", defaultValue = "64", description = "Embedding dimension d. Default: ${DEFAULT-VALUE}")
  int dim;

  @Option(names = "--arch", defaultValue = "attention",
      description = "Scorer architecture of the fixture model: two-sided, dnn, attention or attention-rbf "
          + "(distance attention). Default: ${DEFAULT-VALUE}")
  String arch;

  @Option(names = "--model", description = "A model directory (overrides --arch).")
  Path model;

  @Option(names = "--scorer", defaultValue = "onnx",
      description = "onnx (score.onnx) or ip (inner product in Java, two-sided models only). Default: ${DEFAULT-VALUE}")
  String scorerKind;

  @Option(names = "--provider", defaultValue = "cpu",
      description = "ONNX Runtime execution provider: cpu, cuda (the -Pgpu build on a GPU machine) or auto. Default: ${DEFAULT-VALUE}")
  String provider;

  @Option(names = "--device-id", defaultValue = "0", description = "CUDA device for --provider cuda/auto. Default: ${DEFAULT-VALUE}")
  int deviceId;

  @Option(names = "--dr", description = "A Deep Retrieval structure (./nann trainer train-dr output) for mode dr.")
  Path drDir;

  @Option(names = "--dr-beam", defaultValue = "5", description = "Beam width B of mode dr. Default: ${DEFAULT-VALUE}")
  int drBeam;

  @Option(names = "--modes", defaultValue = "nann,hnsw,brute", split = ",",
      description = "Modes to report: nann (the serving default), beam (the paper's Beam-retrieval), hnsw, brute, "
          + "dr (needs --dr). Default: ${DEFAULT-VALUE}")
  List<String> modes;

  @Option(names = "--width", defaultValue = "400",
      description = "Beam width W of mode nann (search.width), comma-separated for several runs (paired with --budget "
          + "values in order; the last value repeats). Default: ${DEFAULT-VALUE}")
  String width;

  @Option(names = "--descent", defaultValue = "auto",
      description = "How mode nann comes down the upper layers (search.descent): auto (settled by the model's first "
          + "queries, untimed here), wide or narrow; the recommendation at the end measures both and says which pays on "
          + "this model. Default: ${DEFAULT-VALUE}")
  String descent;

  @Option(names = "--budget", defaultValue = "20000",
      description = "Most items mode nann scores per query (search.budget), comma-separated for several runs. "
          + "Default: ${DEFAULT-VALUE}")
  String budget;

  // Plain "--no-…" flags: picocli's negatable form of a default-true option reads the other way round
  // (--no-x set it to true), so the negative is the option itself.
  @Option(names = "--no-recommend",
      description = "Skip the passes that find the width and budget with which mode nann covers 0.99 of the exact "
          + "top-k on this model and corpus (run by default, after the runs).")
  boolean noRecommend;

  @Option(names = "--ef", defaultValue = "100,200,400",
      description = "Beam-retrieval (mode beam) ef per layer, top first; ';' separates budgets. Default: ${DEFAULT-VALUE}")
  String ef;

  @Option(names = "--steps", defaultValue = "1,1,3",
      description = "Beam-retrieval steps T per layer, top first; one set, or one per --ef set. Default: ${DEFAULT-VALUE}")
  String steps;

  @Option(names = "--hnsw-ef", description = "HNSW-retrieval ef_0 values, comma-separated. Default: --width.")
  String hnswEf;

  @Option(names = "--k", defaultValue = "200", description = "Items returned (M). Default: ${DEFAULT-VALUE}")
  int k;

  @Option(names = "--queries", defaultValue = "100", description = "Users queried. Default: ${DEFAULT-VALUE}")
  int queries;

  @Option(names = "--threads", defaultValue = "1", description = "Query threads. Default: ${DEFAULT-VALUE}")
  int threads;

  @Option(names = "--warmup", defaultValue = "20",
      description = "Untimed queries per thread before each mode is measured (brute force: at most 1). Default: ${DEFAULT-VALUE}")
  int warmup;

  @Option(names = "--build-threads", defaultValue = "2", description = "Index build threads. Default: ${DEFAULT-VALUE}")
  int buildThreads;

  @Option(names = "--m", defaultValue = "32", description = "HNSW M. Default: ${DEFAULT-VALUE}")
  int m;

  @Option(names = "--ef-construction", defaultValue = "40", description = "HNSW efConstruction. Default: ${DEFAULT-VALUE}")
  int efConstruction;

  @Option(names = "--seed", defaultValue = "42", description = "Seed for corpus, build and user sample. Default: ${DEFAULT-VALUE}")
  long seed;

  @Option(names = "--index-memory", defaultValue = "heap",
      description = "heap: copy embeddings and adjacency from the verified mapping into heap arrays; mapped: search the mapping. Default: ${DEFAULT-VALUE}")
  String indexMemory;

  @Option(names = "--no-reference-cache",
      description = "Measure the brute-force reference again instead of reusing it from --cache (by default it is reused "
          + "when the index, model, users and k are the same and mode brute is not asked for).")
  boolean noReferenceCache;

  @Option(names = "--explain-misses",
      description = "For mode nann, print where the misses lie: rank in the exact list, score gap, whether the walk came near them.")
  boolean explainMisses;

  @Option(names = "--graph-check", defaultValue = "0", paramLabel = "N",
      description = "Also run N exact-L2 item queries through both walks at every budget (score = -|e_v - e_q|^2) and "
          + "print the share of the true L2 top-k they find: what the graph itself allows a scorer. Default: off")
  int graphCheck;

  @Option(names = "--shards", defaultValue = "1", description = "Item-sharded index: S shard graphs (ShardAssignment), "
      + "each query's shard walks (ShardPlan) merged (ShardMerge) against the whole corpus' brute force. Default: ${DEFAULT-VALUE}")
  int shards;

  @Option(names = "--json", description = "Write one JSON object per mode (and budget) per line to this file.")
  Path json;

  @Option(names = "--cache", defaultValue = ".nann-cache",
      description = "Directory for built snapshots and generated models. Default: ${DEFAULT-VALUE}")
  Path cache;

  @Override
  public Integer call() throws Exception {
    PrintStream log = System.err;
    checkOptions();
    List<SearchMode> modeList = new ArrayList<>();
    for (String mode : modes) {
      SearchMode parsed;
      try {
        parsed = SearchMode.parse(mode);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage() + " (in --modes)");
      }
      if (!modeList.contains(parsed)) {
        modeList.add(parsed);
      }
    }
    if (modeList.contains(SearchMode.DR) || drDir != null) {
      if (drBeam < 1) {
        throw new IllegalArgumentException("--dr-beam must be >= 1, got " + drBeam);
      }
      if (modeList.contains(SearchMode.DR) && shards > 1) {
        throw new IllegalArgumentException("mode dr is not evaluated on a sharded index (--shards > 1)");
      }
    }
    List<BeamParams> beams = beamParams();
    List<Integer> widths = intList("--width", width);
    List<Integer> hnswEfs = hnswEf == null ? List.of(Math.max(k, widths.get(0))) : atLeastK("--hnsw-ef", hnswEf, "");
    List<Integer> budgets = atLeastK("--budget", budget, ": a walk must score at least the k items it returns");
    int walks = Math.max(budgets.size(), widths.size());
    Descent walkDescent = Descent.parse(descent);
    List<SearchParams> runParams = new ArrayList<>();
    int runs = Math.max(walks, Math.max(beams.size(), hnswEfs.size()));
    for (int i = 0; i < runs; i++) {
      runParams.add(new SearchParams(new WalkParams(widths.get(Math.min(i, widths.size() - 1)),
          budgets.get(Math.min(i, budgets.size() - 1)), walkDescent),
          beams.get(Math.min(i, beams.size() - 1)), hnswEfs.get(Math.min(i, hnswEfs.size() - 1))));
    }
    Path modelDir = model != null ? model : ModelLocator.forArch(arch, dim, cache);
    log.println("[eval] model " + modelDir);
    MachineInfo machine = MachineInfo.current();
    try (OnnxModel onnx = OnnxModel.load(modelDir,
        new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, 1))) {
      log.println("[eval] scoring on " + onnx.provider() + "; machine: " + machine.describe());
      if (onnx.spec().itemDim() != dim && model != null) {
        log.println("[eval] --dim " + dim + " ignored: the model takes d=" + onnx.spec().itemDim());
      }
      int d = onnx.spec().itemDim();
      Corpus c = loadCorpus(onnx, d);
      log.printf("[eval] corpus %s: %d items, %d users%n", c.name(), c.size(), c.users().size());
      int itemsHash = Arrays.hashCode(c.embeddings());   // one pass over the items serves both cache keys
      SnapshotCache snapshots = new SnapshotCache(cache.resolve("snapshots"), m, efConstruction, seed, buildThreads, log);
      HnswIndex index = snapshots.buildOrLoad(c, itemsHash);
      index = heap(index);
      long t0 = System.nanoTime();
      Scorer scorer = switch (scorerKind) {
        case "onnx" -> new OnnxScorer(onnx);
        case "ip" -> new InnerProductScorer(onnx);
        default -> throw new IllegalArgumentException("unknown --scorer '" + scorerKind + "'; use onnx or ip");
      };
      log.printf("[eval] scorer %s ready (grid %s warmed) in %.1f s%n", scorerKind,
          scorer instanceof OnnxScorer o ? (o.grid().padded() ? "" : "unpadded, ") + o.grid().sizes().length + " sizes" : "n/a", (System.nanoTime() - t0) / 1e9);
      if (drDir != null) {   // as index-sync publishes it: items train-dr never saw take their nearest item's paths
        long pathsStart = System.nanoTime();
        Map<Long, long[]> assigned = new java.util.HashMap<>();
        index = index.withPaths(dev.nann.indexsync.DrPathTable.load(drDir).forIndex(index, assigned));
        log.printf("[eval] Deep Retrieval paths for the index as index-sync writes them: %,d items without trained paths "
            + "took their nearest item's (%.1f s)%n", assigned.size(), (System.nanoTime() - pathsStart) / 1e9);
      }
      Evaluator evaluator = new Evaluator(index, scorer, c, log).explainMisses(explainMisses);
      if (!noReferenceCache) {
        evaluator.withReferenceCache(cache.resolve("references"), modelDigest(modelDir, c, itemsHash,
            scorerKind + "/" + onnx.provider()));
      }
      if (drDir != null) {
        evaluator.withDeepRetrieval(dev.nann.dr.PathModel.load(drDir, d), drBeam);
      } else if (modeList.contains(SearchMode.DR)) {
        throw new IllegalArgumentException("--modes dr needs --dr DIR (a ./nann trainer train-dr output)");
      }
      ShardedEvaluation sharded = shards == 1 ? null : new ShardedEvaluation(evaluator, c, scorer,
          ShardedEvaluation.build(c, shards, part -> heap(snapshots.buildOrLoad(part, Arrays.hashCode(part.embeddings())))), log);
      List<ModeReport> reports = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        List<SearchMode> these = new ArrayList<>();
        for (SearchMode mode : modeList) {
          boolean more = switch (mode) {
            case NANN -> i < walks;
            case BEAM -> i < beams.size();
            case HNSW -> i < hnswEfs.size();
            case BRUTE, DR -> i == 0;
          };
          if (more) {
            these.add(mode);
          }
        }
        if (!these.isEmpty()) {
          Evaluator.Config cfg = new Evaluator.Config(these, runParams.get(i), k, queries, threads, seed, warmup);
          reports.addAll(sharded == null ? evaluator.run(cfg) : sharded.run(cfg));
        }
      }
      ModeReport.printTable(System.out, reports);
      ModeReport.printBreakdown(System.out, reports);
      evaluator.warnIfNearConstant(System.out);
      Map<String, Object> recommendation = null;
      if (!noRecommend && shards == 1 && modeList.contains(SearchMode.NANN)) {
        recommendation = evaluator.recommend(new Evaluator.Config(List.of(SearchMode.NANN), runParams.get(0), k,
            queries, threads, seed, warmup), TARGET_COVERAGE, System.out);
      }
      List<Map<String, Object>> graphRows = graphCheck(index, runParams);
      if (json != null) {
        ObjectMapper om = new ObjectMapper();
        try (Writer w = Files.newBufferedWriter(json, StandardCharsets.UTF_8)) {
          for (ModeReport r : reports) {
            Map<String, Object> row = r.toJson();
            row.put("provider", onnx.provider());
            row.put("machine", machine.toJson());
            row.put("shards", shards);
            row.putAll(sharded == null ? Map.of() : sharded.extra(r));
            w.write(om.writeValueAsString(row));
            w.write('\n');
          }
          if (recommendation != null) {
            w.write(om.writeValueAsString(recommendation));
            w.write('\n');
          }
          for (Map<String, Object> row : graphRows) {
            w.write(om.writeValueAsString(row));
            w.write('\n');
          }
        }
        log.println("[eval] wrote " + json);
      }
    }
    return 0;
  }

  /** Options refused before anything is loaded or built (a build may take minutes); --json's folder made now. */
  private void checkOptions() throws java.io.IOException {
    if (k < 1) {
      throw new IllegalArgumentException("--k must be >= 1, got " + k);
    }
    if (queries < 1 || threads < 1 || shards < 1 || warmup < 0) {
      throw new IllegalArgumentException("--queries, --threads and --shards must be >= 1 and --warmup >= 0");
    }
    if (!List.of("onnx", "ip").contains(scorerKind) || !List.of("heap", "mapped").contains(indexMemory)) {
      throw new IllegalArgumentException("--scorer must be onnx or ip, --index-memory heap or mapped");
    }
    if (json != null && json.toAbsolutePath().getParent() != null) {
      Files.createDirectories(json.toAbsolutePath().getParent());   // not found missing once the run is over
    }
  }

  /** {@code --index-memory}: the index on the heap, or the verified mapping itself. */
  private HnswIndex heap(HnswIndex index) {
    if (indexMemory.equals("mapped")) {   // heap or mapped: checkOptions refused anything else
      return index;
    }
    long th = System.nanoTime();
    HnswIndex onHeap = index.onHeap();
    System.err.printf("[eval] index copied onto the heap in %.2f s%n", (System.nanoTime() - th) / 1e9);
    return onHeap;
  }

  /** {@code --graph-check}: exact-L2 recall of the three walks per run, printed and returned as JSON rows. */
  private List<Map<String, Object>> graphCheck(HnswIndex index, List<SearchParams> runParams) {
    List<Map<String, Object>> rows = new ArrayList<>();
    if (graphCheck <= 0) {
      return rows;
    }
    System.out.printf("%ngraph check: %d exact-L2 item queries, share of the true L2 top-%d found%n", graphCheck, k);
    System.out.printf("%-26s %11s %-36s %11s %8s %11s%n", "nann params", "nann_recall", "beam params", "beam_recall",
        "hnsw_ef0", "hnsw_recall");
    for (SearchParams p : runParams) {
      GraphQuality.Result r = GraphQuality.measure(index, graphCheck, k, p, seed);
      System.out.printf("%-26s %11.4f %-36s %11.4f %8d %11.4f%n", p.walk(), r.nannRecall(), p.beam(), r.beamRecall(),
          p.hnswEf(), r.hnswRecall());
      rows.add(r.toJson(index));
    }
    return rows;
  }

  private List<BeamParams> beamParams() {
    String[] efSets = ef.split(";");
    String[] stepSets = steps.split(";");
    if (stepSets.length != 1 && stepSets.length != efSets.length) {
      throw new IllegalArgumentException("--steps has " + stepSets.length + " sets but --ef has " + efSets.length
          + "; give one steps set, or one per ef set");
    }
    List<BeamParams> out = new ArrayList<>();
    for (int i = 0; i < efSets.length; i++) {
      BeamParams p = BeamParams.parse(efSets[i], stepSets[stepSets.length == 1 ? 0 : i]);
      if (p.efBottom() < k) {
        throw new IllegalArgumentException("ef_0=" + p.efBottom() + " in --ef '" + efSets[i] + "' is below --k " + k
            + "; Beam-retrieval returns at most ef_0 items");
      }
      out.add(p);
    }
    return out;
  }

  /** A comma-separated option's integers, each at least --k ({@code why} says why, or is empty). */
  private List<Integer> atLeastK(String option, String list, String why) {
    List<Integer> out = intList(option, list);
    for (int v : out) {
      if (v < k) {
        throw new IllegalArgumentException(option + " " + v + " is below --k " + k + why);
      }
    }
    return out;
  }

  private static List<Integer> intList(String option, String list) {
    List<Integer> out = new ArrayList<>();
    for (String s : list.split(",")) {
      try {
        out.add(Integer.parseInt(s.trim().replace("_", "")));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + " must be comma-separated integers, got '" + list + "'");
      }
    }
    return out;
  }

  /**
   * Refuses a generated or MovieLens corpus for a model whose model.json says its item network takes
   * the training run's learned id embeddings (the reference trainer's train command): only the run's
   * corpus holds its e_v, and any other corpus's vectors (or features of a width that happens to
   * match the network's) would be e_v the model never made, silently.
   */
  private static void requireOwnCorpus(OnnxModel onnx, String corpus) {
    String input;
    try {
      input = new com.fasterxml.jackson.databind.ObjectMapper().readTree(onnx.dir().resolve("model.json").toFile())
          .path("item_input").asText("");
    } catch (java.io.IOException e) {
      return;   // OnnxModel read the same file a moment ago
    }
    if (input.startsWith("learned id embedding")) {
      throw new IllegalArgumentException("--corpus " + corpus + ": the model's item network takes its training run's "
          + "learned id embeddings (model.json item_input), which this corpus cannot give it; evaluate it on the run's "
          + "own corpus, --corpus dir:RUN/corpus");
    }
  }

  private Corpus loadCorpus(OnnxModel onnx, int d) {
    if (!corpus.startsWith("dir:")) {
      requireOwnCorpus(onnx, corpus);
    }
    if (corpus.startsWith("synthetic:") || corpus.startsWith("synthetic-nested:")) {
      boolean nested = corpus.startsWith("synthetic-nested:");
      int n;
      try {
        n = Integer.parseInt(corpus.substring(corpus.indexOf(':') + 1).replace("_", ""));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--corpus synthetic:N needs an integer N, got '" + corpus + "'");
      }
      long t0 = System.nanoTime();
      boolean itemNet = onnx.hasItemNetwork() && onnx.spec().itemFeatDim() == d;
      Corpus c = SyntheticCorpus.generate(n, d, Math.max(queries, 1), seed, seed + 1, nested);
      System.err.printf("[eval] generated %d items in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
      if (itemNet) {
        // The model learnt e_v = item network(corpus vector): index and user features use e_v.
        long t1 = System.nanoTime();
        float[] ev = onnx.itemEmbeddings(c.embeddings(), n);
        System.err.printf("[eval] item network applied to %d items in %.1f s%n", n, (System.nanoTime() - t1) / 1e9);
        c = new Corpus(c.name() + ":item-net:" + onnx.spec().version(), ev, c.itemIds(), d, c.users());
      }
      return c;
    }
    if (corpus.startsWith("movielens:")) {
      Path dir = Path.of(corpus.substring("movielens:".length()));
      if (onnx.hasItemNetwork() && onnx.spec().itemFeatDim() == MovieLensCorpus.FEATURES) {
        return MovieLensCorpus.load(dir, d, 10, onnx::itemEmbeddings);
      }
      return MovieLensCorpus.load(dir, d, 10, MovieLensCorpus.randomProjection(d, seed));
    }
    if (corpus.startsWith("dir:")) {
      Corpus c = FileCorpus.load(Path.of(corpus.substring("dir:".length())));
      if (c.dim() != d) {
        throw new IllegalArgumentException("corpus " + corpus + " has dim " + c.dim() + " but the model takes " + d);
      }
      return c;
    }
    throw new IllegalArgumentException("--corpus must be synthetic:N, synthetic-nested:N, movielens:PATH or dir:PATH (the trainer's train command's "
        + "corpus), got '" + corpus + "'");
  }

  /**
   * Digest of the corpus (items and users), of every file in the model directory and of what scores
   * ({@code backend}: scorer kind / provider; float sums differ between them, and with them the
   * order at the top-k's edge) (16 hex digits).
   */
  private static String modelDigest(Path dir, Corpus c, int itemsHash, String backend) throws Exception {
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    md.update((c.name() + "|" + itemsHash + "|" + Arrays.hashCode(c.itemIds()) + "|" + c.users().size() + "|")
        .getBytes(StandardCharsets.UTF_8));
    if (!backend.equals("onnx/CPU")) {   // the default keeps the digest references were cached under before
      md.update(("backend " + backend + "|").getBytes(StandardCharsets.UTF_8));
    }
    // the users' behaviour decides the exact answers: two corpora with the same items and user count
    // but other users must not share a reference
    java.nio.ByteBuffer users = java.nio.ByteBuffer.allocate(8);
    for (Corpus.User u : c.users()) {
      users.clear();
      users.putInt(Arrays.hashCode(u.behavior())).putInt(Arrays.hashCode(u.truth()));
      md.update(users.array());
    }
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        md.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
        md.update(Files.readAllBytes(f));
      }
    }
    return HexFormat.of().formatHex(md.digest()).substring(0, 16);
  }
}
