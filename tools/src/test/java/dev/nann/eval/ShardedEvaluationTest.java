package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.cli.Nann;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.shard.ShardAssignment;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code nann eval --shards}: shard graphs built from the corpus, walks merged, measured against unsharded brute force. */
class ShardedEvaluationTest {
  @TempDir
  Path tmp;

  private static int run(ByteArrayOutputStream err, String... args) {
    CommandLine cli = Nann.commandLine();
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  private static List<JsonNode> rows(Path json) throws Exception {
    ObjectMapper om = new ObjectMapper();
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(json)) {
      out.add(om.readTree(line));
    }
    return out;
  }

  @Test
  void splitPutsEveryItemInItsAssignedShardOnce() {
    Corpus c = SyntheticCorpus.generate(2000, 8, 4, 1, 2, false);
    List<Corpus> parts = ShardedEvaluation.split(c, 3);
    assertEquals(3, parts.size());
    Set<Long> seen = new HashSet<>();
    for (int s = 0; s < 3; s++) {
      Corpus part = parts.get(s);
      assertTrue(part.size() > 500, "a hash spreads 2000 items about evenly: " + part.size());
      for (int i = 0; i < part.size(); i++) {
        long id = part.itemIds()[i];
        assertEquals(s, ShardAssignment.shardOf(id, 3));
        assertTrue(seen.add(id), "item " + id + " in two shards");
        int row = (int) java.util.stream.IntStream.range(0, c.size()).filter(r -> c.itemIds()[r] == id).findFirst()
            .orElseThrow();
        for (int j = 0; j < c.dim(); j++) {
          assertEquals(c.embeddings()[row * c.dim() + j], part.embeddings()[i * c.dim() + j]);
        }
      }
    }
    assertEquals(c.size(), seen.size());
  }

  /**
   * With two shards, brute force merged over the shards is the unsharded brute force (coverage 1.0
   * against the reference over the whole corpus), and the default walk's row says it ran sharded.
   */
  @Test
  void twoShardsMergeToTheUnshardedExactAnswer() throws Exception {
    Path cache = tmp.resolve("cache");
    Path plain = tmp.resolve("plain.json");
    assertEquals(0, run(new ByteArrayOutputStream(), "eval", "--corpus", "synthetic:3000", "--dim", "16", "--arch",
        "attention", "--queries", "8", "--k", "20", "--modes", "nann,brute", "--no-recommend", "--json",
        plain.toString(), "--cache", cache.toString()));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Path sharded = tmp.resolve("sharded.json");
    int code = run(err, "eval", "--corpus", "synthetic:3000", "--dim", "16", "--arch", "attention", "--queries", "8",
        "--k", "20", "--modes", "nann,brute", "--shards", "2", "--json", sharded.toString(), "--cache",
        cache.toString());
    assertEquals(0, code, err.toString());

    List<JsonNode> one = rows(plain);
    List<JsonNode> two = rows(sharded);
    assertEquals(List.of("nann", "brute"), two.stream().map(n -> n.get("mode").asText()).toList(),
        "one row per mode, no recommendation on a sharded run: " + two);
    for (JsonNode n : one) {
      assertEquals(1, n.get("shards").asInt(), n.toString());
    }
    JsonNode nann = two.get(0);
    JsonNode brute = two.get(1);
    for (JsonNode n : two) {
      assertEquals(2, n.get("shards").asInt(), n.toString());
      assertEquals(3000, n.get("items").asInt(), "items of the whole corpus: " + n);
      assertEquals(8, n.get("queries").asInt());
      assertTrue(n.has("max_shard_p50_ms") && n.has("max_shard_p99_ms") && n.has("p99_ms"), n.toString());
    }
    // exact per shard, merged: exactly the unsharded exact top-k, every item scored once
    assertEquals(1.0, brute.get("coverage").asDouble(), 1e-12, brute.toString());
    assertEquals(1.0, brute.get("scored_fraction").asDouble(), 1e-12, brute.toString());
    assertEquals(one.get(1).get("recall_all").asDouble(), brute.get("recall_all").asDouble(), 1e-12);
    // the walk: each shard asked for the plan's shardK, items scored summed over shards
    assertTrue(nann.get("scored_per_query").asDouble() > 0, nann.toString());
    assertTrue(nann.get("shard_k").asInt() >= 10 && nann.get("shard_k").asInt() <= 20, nann.toString());
    assertTrue(nann.get("scored_fraction").asDouble() < 1.0, nann.toString());
    assertTrue(nann.get("coverage").asDouble() >= 0.8, "merged walk against the unsharded exact top-20: " + nann);

    // S=1 and S=2 snapshots do not collide: the unsharded one plus one per shard
    try (var files = Files.list(cache.resolve("snapshots"))) {
      assertEquals(3, files.filter(f -> f.toString().endsWith(".nann")).count());
    }
  }
}
