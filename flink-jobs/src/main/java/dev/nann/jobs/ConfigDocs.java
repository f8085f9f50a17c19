package dev.nann.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the configuration reference (docs/configuration.md) from the option declarations:
 * {@code mvn -q -Pconfig-docs -pl flink-jobs -am process-classes}. A test fails when the committed
 * page and the declarations drift apart.
 */
public final class ConfigDocs {
  private ConfigDocs() {}

  /** The page, as Markdown. */
  public static String render() {
    StringBuilder b = new StringBuilder();
    b.append("# Configuration\n\n")
        .append("Every setting of the two jobs: key, type, default and meaning. Give them in a properties file\n")
        .append("(`./nann serve --config serving.properties`, `flink run ... --config serving.properties`); unknown keys,\n")
        .append("missing required ones and values of the wrong type are refused at start with a message naming the key.\n")
        .append("Kafka client properties (TLS, SASL) go in `kafka.properties.<name>` keys, one per property; see\n")
        .append("[operations.md](operations.md#secured-kafka-tls-saslscram).\n\n")
        .append("<!-- Generated from ServingOptions and IndexSyncOptions (flink-jobs/src/main/java/dev/nann/jobs) by\n")
        .append("     `mvn -q -Pconfig-docs -pl flink-jobs -am process-classes`. Do not edit by hand: ConfigDocsTest fails\n")
        .append("     when this page and the declarations differ. -->\n\n");
    section(b, "Serving job", "`dev.nann.jobs.ServingJob`; `./nann serve`, `./nann demo`.", ServingConfig.OPTIONS);
    section(b, "Index-sync job", "`dev.nann.jobs.IndexSyncJob`; `./nann index-sync`.", IndexSyncConfig.OPTIONS);
    return b.toString();
  }

  private static void section(StringBuilder b, String title, String what, List<DeclaredOption> options) {
    b.append("## ").append(title).append("\n\n").append(what).append("\n\n")
        .append("| key | type | default | meaning |\n|---|---|---|---|\n");
    for (DeclaredOption o : options) {
      String def = o.required() ? "(required)" : o.defaultText() == null ? "(none)" : "`" + o.defaultText() + "`";
      b.append("| `").append(o.docKey()).append("` | ").append(o.type().getSimpleName()).append(" | ").append(def)
          .append(" | ").append(o.description().replace("|", "\\|")).append(" |\n");
    }
    b.append('\n');
  }

  /** Writes the page to the path given (default docs/configuration.md under the working directory). */
  public static void main(String[] args) throws IOException {
    Path out = Path.of(args.length > 0 ? args[0] : "docs/configuration.md");
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, render());
    System.out.println("[config-docs] wrote " + out);
  }
}
