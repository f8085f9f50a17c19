package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Runs {@code nann eval} end to end on a small corpus with a committed fixture model. */
class EvalCommandTest {
  @TempDir
  Path tmp;

  private int run(ByteArrayOutputStream err, String... args) {
    CommandLine cli = Nann.commandLine();
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  @Test
  void aCorpusDirectoryThatCannotBeReadIsOneLineNotAStackTrace() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Path missing = tmp.resolve("no-such-corpus");
    assertEquals(1, run(err, "eval", "--corpus", "dir:" + missing, "--cache", tmp.resolve("cache").toString()));
    String out = err.toString().trim();
    assertTrue(out.startsWith("nann: cannot read corpus " + missing), out);
    assertEquals(1, out.lines().count(), out);

    ByteArrayOutputStream serve = new ByteArrayOutputStream();
    Path noConfig = tmp.resolve("serving.properties");
    assertEquals(1, run(serve, "serve", "--config", noConfig.toString()));
    assertEquals("nann: no such file or directory: " + noConfig, serve.toString().trim());
  }

  @Test
  void aModelThatScoresNaNIsOneLineNamingIt() {
    // the trainer's undefined-d16: NaN for every item whose first component is negative
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:1000", "--dim", "16", "--model",
        dev.nann.TestData.model("undefined", 16).toString(), "--modes", "nann", "--queries", "3",
        "--cache", tmp.resolve("cache").toString()));
    String out = err.toString().trim();
    assertTrue(out.startsWith("nann: the score network of model fixture-undefined-d16 returned NaN for "), out);
    assertEquals(1, out.lines().count(), out);
  }

  /**
   * A model whose item network takes its training run's learned id embeddings (the trainer's train
   * command says so in model.json) is evaluated on its run's corpus only: a generated corpus's vectors
   * of a width that happens to match would be e_v the model never made.
   */
  @Test
  void aTrainedModelsItemNetworkIsNotFedAnotherCorpus() throws Exception {
    Path model = tmp.resolve("trained");
    java.nio.file.Files.createDirectories(model);
    Path fixture = dev.nann.TestData.model("dnn", 16);
    try (var files = java.nio.file.Files.list(fixture)) {
      for (Path f : files.toList()) {
        java.nio.file.Files.copy(f, model.resolve(f.getFileName()));
      }
    }
    Path json = model.resolve("model.json");
    java.nio.file.Files.writeString(json, java.nio.file.Files.readString(json).replaceFirst("\\{",
        "{\"item_input\": \"learned id embedding + attributes (evaluate on the run's corpus)\", "));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:1000", "--model", model.toString(), "--modes", "nann",
        "--queries", "3", "--cache", tmp.resolve("cache").toString()));
    String out = err.toString().trim();
    assertTrue(out.contains("the model's item network takes its training run's learned id embeddings"), out);
    assertTrue(out.contains("--corpus dir:RUN/corpus"), out);
  }

  /** The distance-attention fixture is picked by --arch and walks the graph like the metric it is built on. */
  @Test
  void distanceAttentionFixtureIsServedByArchName() throws Exception {
    Path json = tmp.resolve("rbf.json");
    int code = run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:3000", "--dim", "16", "--arch", "attention-rbf",
        "--queries", "8", "--k", "20", "--ef", "20,40,80", "--steps", "1,1,3", "--modes", "nann,brute",
        "--json", json.toString(), "--cache", tmp.resolve("cache").toString());
    assertEquals(0, code);
    JsonNode nann = new ObjectMapper().readTree(Files.readAllLines(json).get(0));
    assertEquals("nann", nann.get("mode").asText());
    assertTrue(nann.get("coverage").asDouble() >= 0.9, "distance attention, random weights: " + nann);
    assertTrue(nann.get("scored_fraction").asDouble() < 0.5, nann.toString());
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:300", "--dim", "16", "--arch", "attention-cosine"));
    assertTrue(err.toString().contains("unknown --arch 'attention-cosine'"), err.toString());
  }

  @Test
  void writesOneJsonLinePerModeAndBudget() throws Exception {
    Path json = tmp.resolve("eval.json");
    int code = run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:3000", "--dim", "16", "--arch", "attention",
        "--queries", "8", "--k", "20", "--budget", "300,1000", "--hnsw-ef", "40,160", "--threads", "2",
        "--json", json.toString(), "--cache", tmp.resolve("cache").toString());
    assertEquals(0, code);
    List<String> lines = Files.readAllLines(json);
    ObjectMapper om = new ObjectMapper();
    // without --modes: the serving default, HNSW-retrieval and brute force, then the recommendation
    assertEquals(List.of("nann", "hnsw", "brute", "nann", "hnsw", "recommendation"),
        lines.stream().map(l -> {
          try {
            return om.readTree(l).get("mode").asText();
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }).toList(), "2 nann budgets + 2 hnsw budgets + brute + recommendation: " + lines);
    JsonNode recommendation = om.readTree(lines.get(5));
    assertTrue(recommendation.has("recommended_width") && recommendation.has("coverage"), recommendation.toString());
    assertTrue(recommendation.get("recommended_width").isNull()
        || recommendation.get("recommended_coverage").asDouble() >= 0.99, recommendation.toString());
    // the descent auto settled on, the other one measured at the width found, and the one that pays named
    assertTrue(List.of("wide", "narrow").contains(recommendation.get("recommended_descent").asText()),
        recommendation.toString());
    String settled = recommendation.get("auto_descent").asText();
    String other = settled.equals("wide") ? "narrow" : "wide";
    assertTrue(recommendation.get(other + "_descent_coverage").asDouble() > 0
        && recommendation.get(other + "_descent_scored_per_query").asLong() > 0, recommendation.toString());
    JsonNode defaultWalk = om.readTree(lines.get(0));
    assertEquals("auto", defaultWalk.get("descent").asText(), defaultWalk.toString());
    assertTrue(List.of("wide", "narrow").contains(defaultWalk.get("auto_descent").asText())
        && defaultWalk.has("auto_wide_gain"), "the row says what auto settled on: " + defaultWalk);
    for (String line : lines.subList(0, 5)) {
      JsonNode n = om.readTree(line);
      assertEquals(n.get("mode").asText().equals("nann"), n.get("serving_default").asBoolean(), line);
      for (String field : List.of("mode", "items", "queries", "k", "coverage", "recall_all", "recall_retrieval",
          "recall_delta", "scored_fraction", "qps", "p50_ms", "p99_ms")) {
        assertTrue(n.has(field), field + " missing in " + line);
      }
      assertEquals(3000, n.get("items").asInt());
      assertEquals(8, n.get("queries").asInt());
      JsonNode machine = n.get("machine");   // a speed figure is only comparable with its machine
      assertEquals(Runtime.getRuntime().availableProcessors(), machine.get("cores").asInt(), line);
      assertTrue(List.of("yes", "no", "unknown").contains(machine.get("avx512").asText()), line);
      double cov = n.get("coverage").asDouble();
      assertTrue(cov >= 0 && cov <= 1);
      if (n.get("mode").asText().equals("brute")) {
        assertEquals(1.0, cov, 1e-9);
        assertEquals(1.0, n.get("scored_fraction").asDouble(), 1e-9);
        assertEquals(0.0, n.get("recall_delta").asDouble(), 1e-9);
      } else {
        assertTrue(n.get("scored_fraction").asDouble() < 1.0, line);
      }
    }
    // the second run reuses the cached snapshot and gives the same quality figures
    Path again = tmp.resolve("again.json");
    assertEquals(0, run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:3000", "--dim", "16", "--queries", "8",
        "--k", "20", "--budget", "300,1000", "--hnsw-ef", "40,160", "--json", again.toString(),
        "--cache", tmp.resolve("cache").toString()));
    List<String> second = Files.readAllLines(again);
    for (int i = 0; i < lines.size(); i++) {
      JsonNode a = om.readTree(lines.get(i));
      JsonNode b = om.readTree(second.get(i));
      assertEquals(a.get("coverage").asDouble(), b.get("coverage").asDouble(), 1e-9);
    }
  }

  @Test
  void theNarrowDescentIsReportedAsSuchAndNotAsTheServingDefault() throws Exception {
    Path json = tmp.resolve("narrow.json");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(0, run(err, "eval", "--corpus", "synthetic:2000", "--dim", "16", "--arch", "dnn", "--queries", "6",
        "--k", "10", "--modes", "nann", "--descent", "narrow", "--json", json.toString(),
        "--cache", tmp.resolve("cache").toString()));
    ObjectMapper om = new ObjectMapper();
    List<String> lines = Files.readAllLines(json);
    JsonNode nann = om.readTree(lines.get(0));
    assertEquals("narrow", nann.get("descent").asText(), nann.toString());
    assertTrue(nann.get("params").asText().contains("descent=narrow"), nann.toString());
    assertEquals(false, nann.get("serving_default").asBoolean(), "the serving default descends wide: " + nann);
    JsonNode recommendation = om.readTree(lines.get(1));
    assertTrue(recommendation.get("wide_descent_coverage").asDouble() > 0, recommendation.toString());
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:500", "--dim", "16", "--descent", "deep",
        "--cache", tmp.toString()));
    assertTrue(err.toString().contains("unknown descent 'deep': expected auto, wide or narrow"), err.toString());
  }

  @Test
  void badArgumentsAreClearErrors() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:500", "--dim", "16", "--k", "0", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("--k must be >= 1"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:500", "--dim", "16", "--ef", "100,200,400", "--steps", "1,1",
        "--cache", tmp.toString()));
    assertTrue(err.toString().contains("ef has 3 layers"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--corpus", "nowhere:1", "--dim", "16", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("--corpus must be"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--modes", "nann,fast", "--corpus", "synthetic:500", "--dim", "16", "--cache",
        tmp.toString()));
    assertTrue(err.toString().contains("unknown mode 'fast'"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--modes", "dr", "--dr", tmp.toString(), "--dr-beam", "0", "--corpus",
        "synthetic:500", "--dim", "16", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("--dr-beam must be >= 1, got 0"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--modes", "dr", "--dr", tmp.toString(), "--shards", "2", "--corpus",
        "synthetic:500", "--dim", "16", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("mode dr is not evaluated on a sharded index"), err.toString());
    err.reset();
    // refused before the model is loaded (here it does not exist) and the index built
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:500", "--model", tmp.resolve("no-model").toString(),
        "--threads", "0", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("--queries, --threads and --shards must be >= 1"), err.toString());
    err.reset();
    assertEquals(2, run(err, "eval", "--corpus", "synthetic:500", "--model", tmp.resolve("no-model").toString(),
        "--index-memory", "hep", "--cache", tmp.toString()));
    assertTrue(err.toString().contains("--index-memory heap or mapped"), err.toString());
  }

  @Test
  void theBruteForceReferenceIsCachedAndAnUnreadableCacheIsMeasuredAgain() throws Exception {
    Path cache = tmp.resolve("cache");
    String[] args = {"eval", "--corpus", "synthetic:2000", "--dim", "16", "--arch", "dnn", "--queries", "6", "--k", "10",
        "--ef", "10,20,40", "--modes", "nann", "--cache", cache.toString(), "--json", null};
    args[args.length - 1] = tmp.resolve("first.json").toString();
    assertEquals(0, run(new ByteArrayOutputStream(), args));
    List<Path> refs;
    try (var files = Files.list(cache.resolve("references"))) {
      refs = files.toList();
    }
    assertEquals(1, refs.size(), "one reference file per index, model, users and k: " + refs);
    long written = Files.size(refs.get(0));
    assertTrue(written > 6 * 10 * 8, "holds 6 users x 10 (node, score) pairs, got " + written + " bytes");

    var stamp = Files.getLastModifiedTime(refs.get(0));
    Thread.sleep(20);
    args[args.length - 1] = tmp.resolve("second.json").toString();
    assertEquals(0, run(new ByteArrayOutputStream(), args));
    assertEquals(stamp, Files.getLastModifiedTime(refs.get(0)), "the second run read the reference, not rewrote it");
    Files.write(refs.get(0), java.util.Arrays.copyOf(Files.readAllBytes(refs.get(0)), 20));   // truncated
    args[args.length - 1] = tmp.resolve("third.json").toString();
    assertEquals(0, run(new ByteArrayOutputStream(), args));
    assertEquals(written, Files.size(refs.get(0)), "the truncated reference was measured and written again");

    ObjectMapper om = new ObjectMapper();
    double first = om.readTree(Files.readString(tmp.resolve("first.json"))).get("coverage").asDouble();
    for (String f : List.of("second.json", "third.json")) {
      assertEquals(first, om.readTree(Files.readString(tmp.resolve(f))).get("coverage").asDouble(), 1e-12, f);
    }
  }

  @Test
  void explainMissesCountsExactlyTheItemsCoverageMisses() throws Exception {
    Path json = tmp.resolve("explain.json");
    java.io.PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true));
    try {
      assertEquals(0, run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:3000", "--dim", "16", "--arch",
          "attention", "--queries", "10", "--k", "50", "--width", "50", "--budget", "150", "--modes", "nann",
          "--no-recommend", "--explain-misses", "--json", json.toString(), "--cache", tmp.resolve("cache").toString()));
    } finally {
      System.setErr(saved);
    }
    assertEquals(1, Files.readAllLines(json).size(), "--no-recommend: the nann row and no recommendation row");
    double coverage = new ObjectMapper().readTree(Files.readString(json)).get("coverage").asDouble();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("misses of .*?: (\\d+) of (\\d+) exact top-50")
        .matcher(captured.toString());
    assertTrue(m.find(), captured.toString());
    int missed = Integer.parseInt(m.group(1));
    int total = Integer.parseInt(m.group(2));
    assertEquals(500, total, "10 users x top-50");
    assertTrue(missed > 0, "a tiny budget misses some of the exact top-50");
    assertEquals(1.0 - coverage, (double) missed / total, 1e-9);
  }

  @Test
  void otherUsersOverTheSameItemsGetTheirOwnReference() throws Exception {
    int items = 600;
    int dim = 16;
    java.util.Random rnd = new java.util.Random(5);
    java.nio.ByteBuffer emb = java.nio.ByteBuffer.allocate(items * dim * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    java.nio.ByteBuffer ids = java.nio.ByteBuffer.allocate(items * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < items; i++) {
      for (int j = 0; j < dim; j++) {
        emb.putFloat((float) rnd.nextGaussian());
      }
      ids.putLong(1000 + i);
    }
    Path cache = tmp.resolve("cache");
    Path corpus = Files.createDirectories(tmp.resolve("corpus"));
    Files.writeString(corpus.resolve("corpus.json"), "{\"name\": \"same-items\", \"items\": " + items + ", \"dim\": " + dim + "}");
    Files.write(corpus.resolve("items.f32"), emb.array());
    Files.write(corpus.resolve("ids.i64"), ids.array());
    String[] args = {"eval", "--corpus", "dir:" + corpus, "--arch", "dnn", "--dim", "16", "--queries", "4", "--k", "10",
        "--ef", "10,20,40", "--modes", "nann", "--cache", cache.toString()};
    // same item count, same user count, other behaviour: the exact answers differ, so must the reference
    for (int variant = 0; variant < 2; variant++) {
      StringBuilder users = new StringBuilder();
      for (int u = 0; u < 4; u++) {
        users.append("u").append(u).append('\t').append(1000 + u * 7 + variant * 300).append(',')
            .append(1001 + u * 7 + variant * 300).append('\t').append(1002 + u * 7 + variant * 300).append('\n');
      }
      Files.writeString(corpus.resolve("users.tsv"), users);
      assertEquals(0, run(new ByteArrayOutputStream(), args));
    }
    try (var files = Files.list(cache.resolve("references"))) {
      assertEquals(2, files.count(), "one reference per set of users");
    }
  }

  @Test
  void graphCheckWritesTheExactL2RecallOfEveryWalkPerBudget() throws Exception {
    Path json = tmp.resolve("graph.json");
    assertEquals(0, run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:2000", "--dim", "16", "--arch", "dnn",
        "--queries", "4", "--k", "10", "--ef", "10,20,40;2000,2000,2000", "--steps", "1,1,3;20,20,20", "--hnsw-ef",
        "10,2000", "--width", "10,2000", "--budget", "30,2000", "--modes", "nann,beam", "--graph-check", "12", "--json",
        json.toString(), "--cache",
        tmp.resolve("cache").toString()));
    ObjectMapper om = new ObjectMapper();
    List<JsonNode> graph = Files.readAllLines(json).stream().map(l -> {
      try {
        return om.readTree(l);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).filter(n -> n.get("mode").asText().equals("graph-l2")).toList();
    assertEquals(2, graph.size(), "one graph-l2 row per budget");
    assertEquals(12, graph.get(0).get("queries").asInt());
    assertEquals(40, graph.get(0).get("ef_construction").asInt());
    double small = graph.get(0).get("beam_recall").asDouble();
    assertTrue(small > 0 && small <= 1, "recall of the small budget " + small);
    double smallWalk = graph.get(0).get("nann_recall").asDouble();
    assertTrue(smallWalk > 0 && smallWalk < 1, "the default walk at a 30-item budget misses some: " + smallWalk);
    // a budget that scores every node finds every exact neighbour
    assertEquals(1.0, graph.get(1).get("nann_recall").asDouble(), 1e-12);
    assertEquals(1.0, graph.get(1).get("beam_recall").asDouble(), 1e-12);
    assertEquals(1.0, graph.get(1).get("hnsw_recall").asDouble(), 1e-12);
  }
}
