package dev.nann.jobs;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.StringJoiner;
import java.util.TreeMap;

/**
 * Kafka client properties that nann hands through to every Kafka client it creates (the jobs'
 * sources, sinks and their admin clients; the tools' producers, consumers and admin clients):
 * security settings above all ({@code security.protocol}, {@code sasl.*}, {@code ssl.*}). In a
 * job's settings they are the keys {@code kafka.properties.<name>}; the tools also take them as
 * {@code --kafka-property} and {@code --kafka-config}.
 *
 * <p>Properties nann itself must control are refused, and values whose key names a secret are
 * masked wherever nann prints settings.
 */
public final class KafkaClientProperties {
  private KafkaClientProperties() {}

  /** The prefix of Kafka client properties in a job's settings. */
  public static final String PREFIX = "kafka.properties.";

  /** What a masked value reads as. */
  public static final String MASK = "****";

  /** Properties nann sets itself, with what to use instead (sorted by name). */
  static final Map<String, String> CONTROLLED = controlled();

  private static Map<String, String> controlled() {
    Map<String, String> m = new TreeMap<>();
    m.put("bootstrap.servers", "use kafka.bootstrap-servers (./nann request: --bootstrap)");
    m.put("group.id", "use kafka.group-id");
    m.put("client.id.prefix", "nann derives it from kafka.group-id");
    m.put("isolation.level", "nann reads read_committed where answers must be seen once");
    m.put("transactional.id", "each sink derives it from kafka.transactional-id-prefix");
    m.put("transaction.timeout.ms", "use kafka.transaction-timeout-ms");
    m.put("enable.idempotence", "the exactly-once sinks depend on it");
    m.put("enable.auto.commit", "offsets live in Flink's checkpoints");
    m.put("commit.offsets.on.checkpoint", "a first start from committed offsets (kafka.starting-offsets) needs them");
    m.put("auto.offset.reset", "nann sets where each source starts (serving: kafka.starting-offsets)");
    m.put("key.serializer", "nann writes single-object Avro bytes");
    m.put("value.serializer", "nann writes single-object Avro bytes");
    m.put("key.deserializer", "nann reads single-object Avro bytes");
    m.put("value.deserializer", "nann reads single-object Avro bytes");
    return Collections.unmodifiableMap(m);
  }

  /**
   * Refuses a property nann controls, and a producer setting that would turn the producers'
   * idempotence off (Kafka then drops it without a word, and the sinks' guarantees with it: an
   * exactly-once sink fails to start, an at-least-once one may lose or repeat records).
   *
   * @param name the Kafka property name (no prefix)
   * @param value its value
   * @param givenAs how the user spelled it, for the message (e.g. {@code kafka.properties.isolation.level})
   */
  public static void check(String name, String value, String givenAs) {
    check(name, givenAs);
    String v = value == null ? "" : value.trim();
    String why = switch (name.trim()) {
      case "acks" -> v.equals("all") || v.equals("-1") ? null : "the sinks need acks=all (Kafka's default)";
      case "retries" -> positive(v) ? null : "the sinks need retries >= 1 (Kafka's default: no limit)";
      case "max.in.flight.requests.per.connection" -> positive(v) && Long.parseLong(v) <= 5 ? null
          : "an idempotent producer takes 1 to 5 (Kafka's default: 5)";
      default -> null;
    };
    if (why != null) {
      throw new IllegalArgumentException("Kafka property '" + name + "' = '" + v + "' (given as '" + givenAs
          + "') would turn off the producers' idempotence: " + why);
    }
  }

  private static boolean positive(String v) {
    try {
      return Long.parseLong(v) >= 1;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** Refuses a property nann controls (whatever its value). */
  public static void check(String name, String givenAs) {
    if (name.isBlank()) {
      throw new IllegalArgumentException("'" + givenAs + "' names no Kafka property; give kafka.properties.<name>=value");
    }
    String why = CONTROLLED.get(name.trim());
    if (why != null) {
      throw new IllegalArgumentException("Kafka property '" + name + "' (given as '" + givenAs
          + "') is controlled by nann and cannot be set: " + why);
    }
  }

  /**
   * Checks every property of a plain Kafka client map (no prefix) and returns a trimmed, sorted copy.
   *
   * @param givenAs how the user gave them, put before each name in a refusal (e.g. {@code --kafka-property })
   */
  public static Map<String, String> checked(Map<String, String> props, String givenAs) {
    Map<String, String> out = new TreeMap<>();
    props.forEach((k, v) -> {
      check(k, givenAs + k);   // a tool's client, not a sink: its producer settings are its own
      out.put(k.trim(), v == null ? "" : v.trim());
    });
    return out;
  }

  /** True when a key names a secret (password, JAAS config, secret, key material): its value is never printed. */
  public static boolean isSecret(String key) {
    String k = key.toLowerCase(Locale.ROOT);
    return k.contains("password") || k.contains("jaas") || k.contains("secret") || k.contains("key");
  }

  /** The value as it may be printed: {@link #MASK} for a secret key. */
  public static String printable(String key, String value) {
    return isSecret(key) ? MASK : value;
  }

  /** {@code {k=v, ...}} with secret values masked. */
  public static String toPrintable(Map<String, String> settings) {
    StringJoiner j = new StringJoiner(", ", "{", "}");
    new TreeMap<>(settings).forEach((k, v) -> j.add(k + "=" + printable(k, v)));
    return j.toString();
  }

  /** The properties as {@link Properties}, ready for a Kafka client. */
  public static Properties toProperties(Map<String, String> props) {
    Properties p = new Properties();
    p.putAll(props);
    return p;
  }
}
