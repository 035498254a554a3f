# Delivery: images, the Helm chart and its rendered manifests. Included by the root Makefile.
# Tools come from ../shared/tools (see its README) into .tools/ (gitignored); helm is always called by
# its path here, never found on PATH.

SHARED_TOOLS ?= ../shared/tools
TOOLS_BIN ?= .tools/bin
HELM := $(TOOLS_BIN)/helm
# helm keeps its cache and config inside the project, not in $HOME.
DEPLOY_HELM_ENV := HELM_CACHE_HOME=$(CURDIR)/.tools/helm/cache HELM_CONFIG_HOME=$(CURDIR)/.tools/helm/config \
	HELM_DATA_HOME=$(CURDIR)/.tools/helm/data
MANIFESTS_OUT ?= k8s/gleaner.yaml
IMAGE_BASE ?= localhost/gleaner-base:bookworm
IMAGE_TAG ?= dev
IMAGE_SERVICES := api worker-parsing worker-ai worker-notion
BUILDAH_ENV := STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
# Builds here go through a TLS-inspecting proxy whose CA is in this bundle; mounted read-only for RUN steps.
BUILD_CA ?= /etc/ssl/certs/ca-certificates.crt

# The API has its own Dockerfile; the three workers share one, built once per stage (STAGE build argument).
image_dockerfile = $$(case $(1) in worker-*) echo "-f services/worker.Dockerfile --build-arg STAGE=$${svc\#worker-}";; \
	*) echo "-f services/$(1)/Dockerfile";; esac)

.PHONY: tools tools-images manifests images test-deploy test-images

tools: ## install helm + kubectl into .tools/bin (the chart tests need them; the validators come with uv sync)
	$(SHARED_TOOLS)/install-helm.sh $(TOOLS_BIN)

tools-images: ## install buildah and build the local Debian base image (apt; about a minute)
	$(SHARED_TOOLS)/install-image-builder.sh $(IMAGE_BASE)

manifests: tools ## render k8s/gleaner.yaml from the chart (checked in; a test fails on drift)
	{ echo "# Rendered by \`make manifests\` from helm/gleaner with helm/gleaner/ci/manifests-values.yaml (no helm test hooks): do not edit."; \
	  $(DEPLOY_HELM_ENV) $(HELM) template gleaner helm/gleaner --namespace gleaner \
		--values helm/gleaner/ci/manifests-values.yaml --skip-tests; } > $(MANIFESTS_OUT).tmp
	mv $(MANIFESTS_OUT).tmp $(MANIFESTS_OUT)

images: ## build the four images with buildah (the three workers from services/worker.Dockerfile) (BASE=$(IMAGE_BASE), tag $(IMAGE_TAG))
	@for svc in $(IMAGE_SERVICES); do \
		echo "== gleaner-$$svc"; \
		$(BUILDAH_ENV) buildah bud --isolation chroot --network host \
			$(if $(wildcard $(BUILD_CA)),-v $(BUILD_CA):/etc/ssl/certs/ca-certificates.crt:ro) \
			--build-arg BASE=$(IMAGE_BASE) $(call image_dockerfile,$$svc) -t localhost/gleaner-$$svc:$(IMAGE_TAG) . \
			|| exit 1; \
	done

test-deploy: tools ## chart, manifests, skaffold and image-dependency tests (GLEANER_TEST_IMAGES=1 adds the image builds)
	$(UV) run --frozen pytest tests/deploy $(PYTEST_ARGS)

test-images: tools-images ## build the four images and smoke-run each (buildah; about 3 minutes)
	GLEANER_TEST_IMAGES=1 $(UV) run --frozen pytest tests/deploy/test_images.py -k smoke $(PYTEST_ARGS)
