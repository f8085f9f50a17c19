package dev.nann.schemas;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;

/**
 * Every version of each record schema that nann has shipped, oldest first, the last one the
 * current. They are what a new release must still read: keyed and operator state written by an
 * earlier job (a savepoint), and records an earlier client writes to a topic.
 *
 * <p>Each version is a self-contained schema (named types it uses written inline) under
 * {@code dev/nann/schemas/history/<Name>/v<n>.avsc} on the classpath. A schema change adds its new
 * version there; {@code SchemaHistoryTest} fails until it does, and checks that the current schema
 * reads every recorded one (and, for topic schemas, that every recorded one reads the current).
 */
public final class SchemaHistory {
  private static final String ROOT = "/dev/nann/schemas/history/";

  /** Read once per name: every codec of a type asks for the same versions. */
  private static final Map<String, List<Schema>> READ = new ConcurrentHashMap<>();

  private SchemaHistory() {}

  /**
   * The recorded versions of the schema named {@code name} (the record's simple name), oldest first.
   *
   * @throws IllegalArgumentException if none is recorded
   */
  public static List<Schema> versions(String name) {
    return READ.computeIfAbsent(name, SchemaHistory::read);
  }

  private static List<Schema> read(String name) {
    List<Schema> out = new ArrayList<>();
    for (int v = 1; ; v++) {
      try (InputStream in = SchemaHistory.class.getResourceAsStream(ROOT + name + "/v" + v + ".avsc")) {
        if (in == null) {
          break;
        }
        out.add(new Schema.Parser().parse(in));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read recorded schema " + name + " v" + v, e);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no recorded versions of schema " + name + " under " + ROOT);
    }
    return List.copyOf(out);
  }
}
