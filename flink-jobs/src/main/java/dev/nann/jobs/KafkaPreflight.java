package dev.nann.jobs;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Before a job is submitted: can its Kafka clients reach the cluster and log in with its settings?
 * A wrong password or certificate then fails at start with one message naming the listener and the
 * security settings, instead of as a source failure inside the running job.
 */
public final class KafkaPreflight {
  private KafkaPreflight() {}

  /**
   * @param clientProperties the job's {@code kafka.properties.*} (prefix removed)
   * @throws IllegalStateException naming the listener, protocol and mechanism, with Kafka's reason
   */
  public static void check(String bootstrap, Map<String, String> clientProperties, Duration timeout) {
    Properties p = KafkaClientProperties.toProperties(clientProperties);
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", Long.toString(timeout.toMillis()));
    p.put("default.api.timeout.ms", Long.toString(timeout.toMillis()));
    try (Admin admin = Admin.create(p)) {
      admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis())).clusterId()
          .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("cannot use the Kafka listener at " + bootstrap + " (security.protocol "
          + clientProperties.getOrDefault("security.protocol", "PLAINTEXT")
          + (clientProperties.containsKey("sasl.mechanism") ? ", sasl.mechanism " + clientProperties.get("sasl.mechanism") : "")
          + "): " + cause.getClass().getSimpleName() + ": " + cause.getMessage()
          + " - check kafka.bootstrap-servers and kafka.properties.*", cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while checking the Kafka listener at " + bootstrap, e);
    }
  }
}
