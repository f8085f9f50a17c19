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
 * default. A prefix option ({@link CommonOptions#KAFKA_PROPERTIES}) is given one key per entry,
 * {@code kafka.properties.<name>=value}; Kafka properties nann controls are refused
 * ({@link KafkaClientProperties}). {@link #toString} masks secret values.
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
      String key = e.getKey();
      DeclaredOption prefix = prefixOf(declared, key);
      if (prefix != null) {
        String name = key.substring(prefix.key().length() + 1);
        KafkaClientProperties.check(name, e.getValue(), key);
        // kept even when empty: an empty value means something to Kafka (ssl.endpoint.identification.algorithm=)
        v.put(key, e.getValue() == null ? "" : e.getValue().trim());
        continue;
      }
      DeclaredOption d = byKey.get(key);
      if (d != null && d.prefix()) {
        throw new IllegalArgumentException("setting '" + key + "' takes one key per entry: " + d.docKey() + "=value");
      }
      if (d == null) {
        throw new IllegalArgumentException("unknown setting '" + key + "'; known settings: "
            + declared.stream().map(DeclaredOption::docKey).toList());
      }
      if (e.getValue() != null && !e.getValue().isBlank()) {
        v.put(key, e.getValue().trim());
      }
    }
    this.given = v;
    this.conf = Configuration.fromMap(v);
    for (DeclaredOption d : declared) {
      if (d.prefix()) {
        continue;
      }
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

  /** The prefix option {@code key} is an entry of ({@code <prefix>.<name>}), or null. */
  private static DeclaredOption prefixOf(List<DeclaredOption> declared, String key) {
    for (DeclaredOption d : declared) {
      if (d.prefix() && key.startsWith(d.key() + ".")) {
        return d;
      }
    }
    return null;
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

  /**
   * Refuses a numeric setting outside {@code [min, max]}.
   *
   * @throws IllegalArgumentException naming the setting, the range and the value
   */
  protected void requireRange(ConfigOption<? extends Number> option, long min, long max) {
    long v = get(option).longValue();
    if (v < min || v > max) {
      throw new IllegalArgumentException("setting '" + option.key() + "' must be in [" + min + ", " + max + "], got " + v);
    }
  }

  /**
   * Refuses a transaction timeout that a transaction of the exactly-once sinks could outlive: each is
   * open from one checkpoint to the next one's completion, and one the broker times out first is
   * aborted with the records in it.
   */
  protected void requireTransactionsOutliveCheckpoints(ConfigOption<Integer> timeout, ConfigOption<Integer> interval) {
    long t = get(timeout);
    long i = get(interval);
    if (t < 2 * i) {
      throw new IllegalArgumentException("setting '" + timeout.key() + "' (" + t + ") must be at least twice '"
          + interval.key() + "' (" + i + "): a Kafka transaction stays open from one checkpoint to the next one's end");
    }
  }

  /**
   * Refuses a numeric setting that is not a positive float (above 0 and finite as a float).
   *
   * @throws IllegalArgumentException naming the setting and the value
   */
  protected void requirePositiveFloat(ConfigOption<? extends Number> option) {
    double v = get(option).doubleValue();
    float f = (float) v;
    if (!(f >= Float.MIN_NORMAL) || !Float.isFinite(f)) {
      throw new IllegalArgumentException("setting '" + option.key() + "' must be in [" + Float.MIN_NORMAL + ", "
          + Float.MAX_VALUE + "], got " + v);
    }
  }

  /** The values given (defaults not included), as a properties file would hold them; secrets unmasked. */
  public Map<String, String> given() {
    return new TreeMap<>(given);
  }

  /**
   * The Kafka client properties given ({@code kafka.properties.<name>}), with the prefix removed:
   * what every Kafka client of the job gets.
   */
  public Map<String, String> kafkaProperties() {
    Map<String, String> m = new TreeMap<>();
    given.forEach((k, val) -> {
      if (k.startsWith(KafkaClientProperties.PREFIX)) {
        m.put(k.substring(KafkaClientProperties.PREFIX.length()), val);
      }
    });
    return m;
  }

  /** The values given, with the values of secret keys (password, jaas, secret, key) masked: safe to log. */
  @Override
  public String toString() {
    return KafkaClientProperties.toPrintable(given);
  }
}
