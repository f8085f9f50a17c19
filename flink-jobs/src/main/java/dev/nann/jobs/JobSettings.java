package dev.nann.jobs;

import java.io.IOException;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * Settings of one job: a fixed set of keys with defaults, overridden from a properties file or in
 * code. Unknown keys and missing required ones ("" default) are refused with a message naming them,
 * so a typo cannot silently fall back to a default.
 */
public abstract class JobSettings implements Serializable {
  private final Map<String, String> values;

  /**
   * @param optional keys whose empty default means "not set" rather than "required"
   */
  protected JobSettings(Map<String, String> defaults, Map<String, String> overrides, Set<String> optional) {
    Map<String, String> v = new TreeMap<>(defaults);
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      if (!defaults.containsKey(e.getKey())) {
        throw new IllegalArgumentException("unknown setting '" + e.getKey() + "'; known settings: " + defaults.keySet());
      }
      v.put(e.getKey(), e.getValue());
    }
    for (Map.Entry<String, String> e : v.entrySet()) {
      if (e.getValue().isEmpty() && !optional.contains(e.getKey())) {
        throw new IllegalArgumentException("setting '" + e.getKey() + "' is required");
      }
    }
    this.values = v;
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

  public String get(String key) {
    String v = values.get(key);
    if (v == null) {
      throw new IllegalArgumentException("unknown setting '" + key + "'");
    }
    return v;
  }

  public int getInt(String key) {
    try {
      return Integer.parseInt(get(key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("setting '" + key + "' must be an integer, got '" + get(key) + "'");
    }
  }

  public boolean getBoolean(String key) {
    String v = get(key);
    if (!v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException("setting '" + key + "' must be true or false, got '" + v + "'");
    }
    return Boolean.parseBoolean(v);
  }

  /** Every setting, defaults included. */
  public Map<String, String> asMap() {
    return new TreeMap<>(values);
  }

  @Override
  public String toString() {
    return values.toString();
  }
}
