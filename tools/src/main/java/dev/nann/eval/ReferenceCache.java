package dev.nann.eval;

import dev.nann.engine.QueryExecutor;
import dev.nann.graph.ItemIdLookup;
import dev.nann.search.SearchResult;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Exact top-k answers (brute force, the evaluation's most expensive run) kept on disk per model,
 * query count, seed and k, as item ids and scores: the reference holds for any graph built over
 * the same corpus, so sweeping graphs and budgets of one model measures brute force once.
 */
final class ReferenceCache {
  private final Path dir;
  private final String modelKey;
  private final PrintStream progress;

  /**
   * @param modelKey names the model (and corpus) the answers belong to
   * @param progress where to say what happened, or null
   */
  ReferenceCache(Path dir, String modelKey, PrintStream progress) {
    this.dir = dir;
    this.modelKey = modelKey;
    this.progress = progress;
  }

  /** The file of one reference. */
  Path file(int queries, long seed, int k) {
    return dir.resolve(modelKey + "-q" + queries + "-s" + seed + "-k" + k + ".ref");
  }

  /**
   * The cached answers, or null when the file is missing, unreadable, for another query count, or
   * names an item {@code ids} does not hold (not this corpus' reference).
   */
  QueryExecutor.Answer[] read(Path file, int queries, ItemIdLookup ids, int indexSize) {
    if (!Files.exists(file)) {
      return null;
    }
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      if (in.readInt() != queries) {
        return null;
      }
      QueryExecutor.Answer[] answers = new QueryExecutor.Answer[queries];
      for (int q = 0; q < queries; q++) {
        int n = in.readInt();
        long[] items = new long[n];
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
          items[i] = in.readLong();
          scores[i] = in.readFloat();
          if (ids.nodeOf(items[i]) < 0) {
            return null;
          }
        }
        answers[q] = new QueryExecutor.Answer(items, scores, indexSize,
            new SearchResult(new int[0], new float[0], indexSize, 0, 0, 0, 0, 0));
      }
      return answers;
    } catch (IOException e) {
      say("[eval] reference cache " + file + " unreadable (" + e.getMessage() + "): measuring again");
      return null;
    }
  }

  /** Writes the answers atomically (a reader never sees half a file); a failure is reported, not thrown. */
  void write(Path file, QueryExecutor.Answer[] answers) {
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)))) {
        out.writeInt(answers.length);
        for (QueryExecutor.Answer a : answers) {
          out.writeInt(a.size());
          for (int i = 0; i < a.size(); i++) {
            out.writeLong(a.items()[i]);
            out.writeFloat(a.scores()[i]);
          }
        }
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      say("[eval] could not write reference cache " + file + ": " + e.getMessage());
    }
  }

  private void say(String line) {
    if (progress != null) {
      progress.println(line);
    }
  }
}
