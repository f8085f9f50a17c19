package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The configuration page users read is the one the declarations generate, and covers every key. */
class ConfigDocsTest {
  private static final Path PAGE = Path.of(System.getProperty("nann.repo", "..")).resolve("docs/configuration.md");

  @Test
  void theCommittedPageMatchesTheDeclarations() throws Exception {
    assertTrue(Files.exists(PAGE), PAGE + " is missing: mvn -q -Pconfig-docs -pl flink-jobs -am process-classes");
    assertEquals(ConfigDocs.render(), Files.readString(PAGE),
        "docs/configuration.md is out of date: regenerate it with mvn -q -Pconfig-docs -pl flink-jobs -am process-classes");
  }

  @Test
  void everyKeyIsOnThePageWithItsDefault() throws Exception {
    String page = Files.readString(PAGE);
    for (List<DeclaredOption> options : List.of(ServingConfig.OPTIONS, IndexSyncConfig.OPTIONS)) {
      for (DeclaredOption o : options) {
        assertTrue(o.description().length() > 10, o.key() + " needs a description");
        String row = "| `" + o.docKey() + "` | " + o.type().getSimpleName() + " | "
            + (o.required() ? "(required)" : o.defaultText() == null ? "(none)" : "`" + o.defaultText() + "`");
        assertTrue(page.contains(row), "no row for " + o.key() + ": " + row);
      }
    }
    assertTrue(page.contains("| `kafka.properties.<name>` | Map | (none) |"), "the Kafka client properties row");
    // the defaults users read are the engine's own
    assertTrue(page.contains("| `search.width` | Integer | `" + dev.nann.search.WalkParams.DEFAULTS.width() + "`"));
  }
}
