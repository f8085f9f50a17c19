package dev.nann.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.indexsync.ShardedBulkLoad;
import dev.nann.local.LocalStack;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A bulk load kept between benchmark runs: the shard files, manifest and descriptor of one build,
 * keyed by what decides them (corpus, S, M, efConstruction), and the exact answers computed
 * against it. A 10M-item build takes most of an hour on two cores and the exact top-k over all
 * items minutes more; a second run at another search width needs neither again.
 *
 * <p>Files are hard-linked into the cluster's snapshot store (copied where links are refused), and
 * the descriptor's URIs rewritten to name them there, so the cluster sees exactly what a fresh
 * bulk load would have written.
 */
final class BulkLoadCache {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String DESCRIPTOR = "descriptor.avro";
  private static final String BUILD = "build.json";

  private final Path dir;

  /**
   * @param root the cache's root (one folder per key below it), or null for no cache
   * @param key what decides the build, made of file-name-safe characters
   */
  BulkLoadCache(Path root, String key) {
    this.dir = root == null ? null : root.resolve(key);
  }

  /** The cached load linked into {@code store}, or a new one built there by {@code build} and kept. */
  ShardedBulkLoad.Result load(Path store, Supplier<ShardedBulkLoad.Result> build, PrintStream log) {
    try {
      if (dir != null && Files.exists(dir.resolve(BUILD))) {
        ShardedBulkLoad.Result cached = restore(store);
        log.printf("[shards] reusing the build in %s (%,d items; delete the folder to rebuild)%n", dir,
            cached.descriptor().getItems());
        return cached;
      }
      ShardedBulkLoad.Result built = build.get();
      if (dir != null) {
        keep(store, built);
      }
      return built;
    } catch (IOException e) {
      throw new UncheckedIOException("bulk-load cache " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Exact answers (user -> item ids) cached under {@code name}, or computed by {@code exact} and kept. */
  Map<Integer, List<Long>> exact(String name, Supplier<Map<Integer, List<Long>>> exact) {
    Path file = exactFile(name);
    try {
      if (file != null && Files.exists(file)) {
        Map<Integer, List<Long>> out = new LinkedHashMap<>();
        JsonNode doc = JSON.readTree(file.toFile());
        doc.fields().forEachRemaining(e -> {
          List<Long> items = new ArrayList<>();
          e.getValue().forEach(v -> items.add(v.asLong()));
          out.put(Integer.parseInt(e.getKey()), items);
        });
        return out;
      }
      Map<Integer, List<Long>> computed = exact.get();
      if (file != null) {
        ObjectNode doc = JSON.createObjectNode();
        computed.forEach((u, items) -> items.forEach(doc.withArray(Integer.toString(u))::add));
        Files.createDirectories(dir);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), doc);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      return computed;
    } catch (IOException e) {
      throw new UncheckedIOException("exact answers cache " + file + ": " + e.getMessage(), e);
    }
  }

  /** True when a later {@link #exact} call under {@code name} reads the cache. */
  boolean hasExact(String name) {
    return dir != null && Files.exists(exactFile(name));
  }

  private Path exactFile(String name) {
    return dir == null ? null : dir.resolve("exact-" + name + ".json");
  }

  private void keep(Path store, ShardedBulkLoad.Result built) throws IOException {
    Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
    LocalStack.deleteTree(tmp);
    Files.createDirectories(tmp);
    for (String file : files(built.descriptor())) {
      link(store.resolve(file), tmp.resolve(file));
    }
    Files.write(tmp.resolve(DESCRIPTOR), bytes(built.descriptor().toByteBuffer()));
    ObjectNode doc = JSON.createObjectNode();
    for (double s : built.buildSeconds()) {
      doc.withArray("build_seconds").add(s);
    }
    for (int n : built.items()) {
      doc.withArray("items").add(n);
    }
    JSON.writeValue(tmp.resolve(BUILD).toFile(), doc);
    LocalStack.deleteTree(dir);
    Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private ShardedBulkLoad.Result restore(Path store) throws IOException {
    IndexDescriptor d = IndexDescriptor.fromByteBuffer(ByteBuffer.wrap(Files.readAllBytes(dir.resolve(DESCRIPTOR))));
    Files.createDirectories(store);
    for (String file : files(d)) {
      link(dir.resolve(file), store.resolve(file));
    }
    IndexDescriptor.Builder b = IndexDescriptor.newBuilder(d).setUri(relocate(d.getUri(), store));
    if (d.getShards() != null) {
      List<ShardSnapshot> shards = new ArrayList<>();
      for (ShardSnapshot s : d.getShards()) {
        shards.add(ShardSnapshot.newBuilder(s).setUri(relocate(s.getUri(), store)).build());
      }
      b.setShards(shards);
    }
    JsonNode doc = JSON.readTree(dir.resolve(BUILD).toFile());
    double[] seconds = new double[doc.get("build_seconds").size()];
    int[] items = new int[doc.get("items").size()];
    for (int i = 0; i < seconds.length; i++) {
      seconds[i] = doc.get("build_seconds").get(i).asDouble();
    }
    for (int i = 0; i < items.length; i++) {
      items[i] = doc.get("items").get(i).asInt();
    }
    return new ShardedBulkLoad.Result(b.build(), seconds, items);
  }

  /** File names the descriptor names: the snapshot or manifest, and every shard's file. */
  private static List<String> files(IndexDescriptor d) {
    List<String> out = new ArrayList<>();
    out.add(fileName(d.getUri()));
    if (d.getShards() != null) {
      for (ShardSnapshot s : d.getShards()) {
        out.add(fileName(s.getUri()));
      }
    }
    return out;
  }

  private static String fileName(String uri) {
    return Path.of(URI.create(uri)).getFileName().toString();
  }

  private static String relocate(String uri, Path store) {
    return store.toAbsolutePath().resolve(fileName(uri)).toUri().toString();
  }

  private static void link(Path from, Path to) throws IOException {
    Files.deleteIfExists(to);
    try {
      Files.createLink(to, from);
    } catch (IOException | UnsupportedOperationException e) {
      Files.copy(from, to);
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }
}
