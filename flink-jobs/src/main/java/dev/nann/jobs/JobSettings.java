package dev.nann.jobs;

import java.io.IOException;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;

/**
 * Settings of one job: the options its options class declares, overridden from a properties file
 * or in code and read back typed ({@link #get}). Unknown keys, missing required ones and values of
 * the wrong type are refused with a message naming them, so a typo cannot silently fall back to a
 * default.
 */
public abstract class JobSettings implements Serializable {
  /** The values given (not the defaults), as strings: what a properties file would hold. */
  private final Map<String, String> given;
  private final Configuration conf;

  protected JobSettings(List<DeclaredOption> declared, Map<String, String> overrides) {
    Map<String, DeclaredOption> byKey = new TreeMap<>();
    declared.forEach(d -> byKey.put(d.key(), d));
    Map<String, String> v = new TreeMap<>();
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      if (!byKey.containsKey(e.getKey())) {
        throw new IllegalArgumentException("unknown setting '" + e.getKey() + "'; known settings: " + byKey.keySet());
      }
      if (e.getValue() != null && !e.getValue().isBlank()) {
        v.put(e.getKey(), e.getValue().trim());
      }
    }
    this.given = v;
    this.conf = Configuration.fromMap(v);
    for (DeclaredOption d : declared) {
      if (d.required() && !v.containsKey(d.key())) {
        throw new IllegalArgumentException("setting '" + d.key() + "' is required: " + d.description());
      }
      try {
        conf.get(d.option());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("setting '" + d.key() + "' must be " + kind(d.type()) + ", got '"
            + v.get(d.key()) + "'");
      }
    }
  }

  private static String kind(Class<?> type) {
    if (type == Integer.class) {
      return "an integer";
    }
    if (type == Boolean.class) {
      return "true or false";
    }
    if (type == Long.class) {
      return "an integer";
    }
    return type == Double.class ? "a number" : "text";
  }

  /** The key-value pairs of a properties file, trimmed. */
  protected static Map<String, String> readProperties(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    }
    Map<String, String> m = new TreeMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k).trim()));
    return m;
  }

  /** The value of a setting: given, or its default; null for an optional setting not given. */
  public <T> T get(ConfigOption<T> option) {
    return conf.get(option);
  }

  /** The values given (defaults not included), as a properties file would hold them. */
  public Map<String, String> given() {
    return new TreeMap<>(given);
  }

  @Override
  public String toString() {
    return given.toString();
  }
}
