package dev.ferry.k8s;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The alerting rules through promtool (Debian's prometheus package): {@code check rules} on the groups written out
 * of k8s/prometheusrule.yaml, and {@code test rules} with one unit-test file per alert (fires on a faulty series,
 * stays silent on a healthy one). The committed plain rules file must hold the same groups.
 */
class PromtoolRulesTest {

  static final Path UNIT_TESTS = Path.of("src/test/resources/prometheus/tests");

  private static Manifests k8s;

  @BeforeAll
  static void load() {
    k8s = Manifests.load();
    if (Boolean.getBoolean("ferry.rules.update")) {
      Rules.writePlain(k8s, Rules.PLAIN_FILE);
    }
  }

  @Test
  void plainRulesFileHoldsExactlyThePrometheusRuleGroups() {
    Map<String, Object> plain = Manifests.yamlMap(Rules.PLAIN_FILE);
    assertThat(plain.keySet()).containsExactly("groups");
    assertThat(plain.get("groups"))
      .as("%s is stale: regenerate it with mvn test -Dtest=PromtoolRulesTest -Dferry.rules.update=true", Rules.PLAIN_FILE)
      .isEqualTo(Rules.groups(k8s));
  }

  @Test
  void promtoolAcceptsTheRules(@TempDir Path dir) {
    Path promtool = Tools.require(Tools.PROMTOOL);
    Path rules = Rules.writePlain(k8s, dir.resolve("ferry-rules.yaml"));
    Tools.Result r = Tools.run(List.of(promtool.toString(), "check", "rules", rules.toString()), null, Duration.ofSeconds(60));
    assertThat(r.exit()).as("promtool check rules:\n%s", r.output()).isZero();
    assertThat(r.output()).contains("SUCCESS: " + Rules.alerts(Rules.groups(k8s)).size() + " rules found");
  }

  @Test
  void everyAlertFiresOnItsFaultAndStaysSilentWhenHealthyUnderPromtool(@TempDir Path dir) throws Exception {
    Path promtool = Tools.require(Tools.PROMTOOL);
    Rules.writePlain(k8s, dir.resolve("ferry-rules.yaml"));
    List<Path> files;
    try (Stream<Path> s = Files.list(UNIT_TESTS)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    List<String> alertsTested = new ArrayList<>();
    for (Path f : files) {
      String text = Files.readString(f);
      assertThat(text).as("%s loads the rules written from the PrometheusRule", f).contains("rule_files: [ferry-rules.yaml]");
      assertThat(text).as("%s has a silent (healthy) case", f).contains("exp_alerts: []");
      assertThat(text).as("%s has a firing case", f).contains("exp_annotations:");
      Files.copy(f, dir.resolve(f.getFileName()));
      java.util.regex.Pattern.compile("alertname: (\\w+)").matcher(text).results().forEach(m -> alertsTested.add(m.group(1)));
    }
    for (Map<?, ?> alert : Rules.alerts(Rules.groups(k8s))) {
      assertThat(alertsTested).as("a promtool unit test for %s", alert.get("alert")).contains((String) alert.get("alert"));
    }
    List<String> command = new ArrayList<>(List.of(promtool.toString(), "test", "rules"));
    files.forEach(f -> command.add(dir.resolve(f.getFileName()).toString()));
    Tools.Result r = Tools.run(command, null, Duration.ofSeconds(120));
    assertThat(r.exit()).as("promtool test rules:\n%s", r.output()).isZero();
    assertThat(r.output().split("SUCCESS", -1)).hasSize(files.size() + 1);
  }
}
