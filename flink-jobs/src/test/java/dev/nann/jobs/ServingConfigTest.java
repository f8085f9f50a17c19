package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings: defaults, file loading, and clear refusals. */
class ServingConfigTest {
  @Test
  void readsAPropertiesFileOverTheDefaults(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("serving.properties");
    Files.writeString(f, "kafka.bootstrap-servers = broker:9092\nmodel.dir = /models/m1\nsnapshot.dir = /store/snapshots\nsearch.ef = 50,100,300\nsearch.width = 400\n"
        + "batching.enabled = true\n");
    ServingConfig c = ServingConfig.load(f);
    assertEquals("broker:9092", c.get(ServingOptions.BOOTSTRAP_SERVERS));
    assertEquals("requests", c.get(ServingOptions.TOPIC_REQUESTS));
    assertEquals(null, c.get(ServingOptions.DR_DIR), "an optional setting not given reads as null");
    assertEquals("/models", c.engine().modelRoot(), "models may come from beside the default one");
    assertTrue(c.engine().microBatching());
    assertEquals(300, c.engine().search().beam().efBottom());
    assertEquals(400, c.engine().search().walk().width());
    assertEquals(8, c.topics().size());
    assertTrue(c.compactedTopics().contains("index-updates"));
  }

  @Test
  void refusesUnknownKeysMissingRequiredOnesAndBadValues() {
    Map<String, String> ok = Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s");
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s",
            "search.eff", "1")));
    assertTrue(typo.getMessage().contains("unknown setting 'search.eff'"), typo.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(Map.of("model.dir", "/m")));
    assertTrue(missing.getMessage().contains("kafka.bootstrap-servers"), missing.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ServingConfig.of(ok).with(Map.of("search.ef", "a,b")));
    assertThrows(IllegalArgumentException.class, () -> ServingConfig.of(ok).with(Map.of("kafka.delivery", "maybe")));
    IllegalArgumentException bool = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("batching.enabled", "yes")));
    assertEquals("setting 'batching.enabled' must be true or false, got 'yes'", bool.getMessage());
    IllegalArgumentException number = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("search.width", "wide")));
    assertEquals("setting 'search.width' must be an integer, got 'wide'", number.getMessage());
    assertFalse(ServingConfig.of(ok).engine().microBatching());
  }
}
