## docker/check-docker.mk, included by Makefile.am:
##	include $(srcdir)/docker/check-docker.mk
## `make check-docker`: the Docker stack end to end (t/docker/stack.t): builds
## the images, starts, stops, tears down and cleans up a stack of its own
## names (startertest, tag test) with Docker + compose or Podman +
## podman-compose (on a machine without either: ../shared/container/setup-podman
## or apt-get install podman podman-compose).  Needs no build of the tree.
check-docker:
	cd $(srcdir) && $(PROVE) $(PROVE_FLAGS) t/docker/stack.t

.PHONY: check-docker
