package dev.ferry.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where kubectl exists (optional: Debian's kubernetes-client, or any kubectl on PATH), {@code kubectl kustomize k8s}
 * renders exactly the objects {@link Manifests} loads, with the generated ConfigMaps holding the files as they are.
 * The model checks in {@link ManifestModelTest} never depend on this.
 */
class KustomizeRenderTest {

  @Test
  void kubectlKustomizeRendersTheObjectsTheModelChecks() {
    Path kubectl = Tools.kubectl();
    Assumptions.assumeTrue(kubectl != null, "kubectl not on PATH");
    Tools.Result r = Tools.run(List.of(kubectl.toString(), "kustomize", Manifests.K8S.toString()), null,
      Duration.ofSeconds(60));
    assertThat(r.exit()).as("kubectl kustomize k8s:\n%s", r.output()).isZero();
    Set<String> rendered = new TreeSet<>();
    Map<String, Map<?, ?>> configMaps = new java.util.HashMap<>();
    for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(r.output())) {
      Map<?, ?> o = (Map<?, ?>) doc;
      String name = (String) ((Map<?, ?>) o.get("metadata")).get("name");
      rendered.add(o.get("kind") + "/" + name);
      if ("ConfigMap".equals(o.get("kind"))) {
        configMaps.put(name, o);
      }
    }
    Manifests k8s = Manifests.load();
    assertThat(rendered).isEqualTo(k8s.objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName())
      .collect(Collectors.toCollection(TreeSet::new)));
    for (HasMetadata o : k8s.objects) {
      if (o instanceof ConfigMap cm) {
        Map<?, ?> out = configMaps.get(cm.getMetadata().getName());
        assertThat((Map<?, ?>) out.get("data")).as("data of ConfigMap %s", cm.getMetadata().getName())
          .isEqualTo(cm.getData());
        if (cm.getMetadata().getLabels() != null) {
          Map<?, ?> labels = (Map<?, ?>) ((Map<?, ?>) out.get("metadata")).get("labels");
          cm.getMetadata().getLabels().forEach((k, v) ->
            assertThat(labels.get(k)).as("label %s of ConfigMap %s", k, cm.getMetadata().getName()).isEqualTo(v));
        }
      }
    }
  }
}
