package dev.nann.cli;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code nann corpus}: writes a synthetic corpus for the trainer: {@code items.f32} (row-major
 * little-endian float32), {@code users.txt} (one user a line: behaviour rows, "|", truth rows) and
 * {@code corpus.json}.
 */
@Command(name = "corpus", mixinStandardHelpOptions = true,
    description = "Writes a seeded synthetic corpus (items and training users) for ./nann trainer train-synthetic.")
public final class CorpusCommand implements Callable<Integer> {
  @Option(names = "--items", defaultValue = "1000000", description = "Items. Default: ${DEFAULT-VALUE}")
  int items;

  @Option(names = "--dim", defaultValue = "64", description = "Embedding dimension. Default: ${DEFAULT-VALUE}")
  int dim;

  @Option(names = "--users", defaultValue = "50000", description = "Training users. Default: ${DEFAULT-VALUE}")
  int users;

  @Option(names = "--seed", defaultValue = "42", description = "Item seed (same as nann eval --seed). Default: ${DEFAULT-VALUE}")
  long seed;

  @Option(names = "--user-seed", defaultValue = "1000",
      description = "Training-user seed; eval users use seed+1, so keep this different. Default: ${DEFAULT-VALUE}")
  long userSeed;

  @Option(names = "--nested", description = "Cluster centres grouped into categories (see nann eval --corpus synthetic-nested:N).")
  boolean nested;

  @Option(names = "--out", required = true, description = "Output directory.")
  Path out;

  @Override
  public Integer call() throws IOException {
    if (userSeed == seed + 1) {
      throw new IllegalArgumentException("--user-seed " + userSeed + " would reproduce the evaluation users; pick another");
    }
    Corpus c = SyntheticCorpus.generate(items, dim, users, seed, userSeed, nested);
    Files.createDirectories(out);
    try (FileChannel ch = FileChannel.open(out.resolve("items.f32"), StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : c.embeddings()) {
        if (!buf.hasRemaining()) {
          buf.flip();
          ch.write(buf);
          buf.clear();
        }
        buf.putFloat(v);
      }
      buf.flip();
      ch.write(buf);
    }
    try (BufferedWriter w = Files.newBufferedWriter(out.resolve("users.txt"), StandardCharsets.UTF_8)) {
      for (Corpus.User u : c.users()) {
        StringBuilder sb = new StringBuilder();
        for (int b : u.behavior()) {
          sb.append(b).append(' ');
        }
        sb.append('|');
        for (int t : u.truth()) {
          sb.append(' ').append(t);
        }
        w.write(sb.toString());
        w.newLine();
      }
    }
    Files.writeString(out.resolve("corpus.json"), JsonLines.line(JsonLines.object().put("name", c.name())
        .put("items", items).put("dim", dim).put("users", users).put("seed", seed).put("user_seed", userSeed)) + "\n");
    System.err.printf("[corpus] wrote %s: %d items x %d, %d training users%n", out, items, dim, users);
    return 0;
  }
}
