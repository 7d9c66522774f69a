"""Host-side code of the concurrency lab. A map, by role:

The matrix and its words (stdlib only: shell scripts read them with the host's python3)
    matrix       matrix.toml, read and validated: images, methods, platforms, labels, cell ids
    errors       UserError and its exit codes (bad input 2, missing environment 3, failed run 1)
    cli          the one tail of every command: ``prog: message`` and the error's exit code
    envfile      the workshop's .env, checked as Compose reads it
    debian       verified downloads from the Debian mirror (sources, Docker CLI plugins)

Containers and images
    container    the Docker client, missing images, free ports, the sweep, LabContainer, ContainerPool
    hardening    the lockdown every lab container gets (SDK, Compose, the hub, Kubernetes)
    wait         the one poll loop: until(predicate, timeout, every, what)
    compose      a workshop's compose project run from code (tests, bench-pull)
    registry     pull before build, the images' digests in results, --digests (stdlib + docker CLI)
    publish      scripts/publish: push per architecture by digest, merge manifest lists
    loopback     a loopback registry and a second, empty dockerd (tests/publish, bench-pull, arm64)
    bench_pull   scripts/bench-pull: from no local image to every workshop healthy
    arm64        scripts/verify-arm64: the matrix in arm64 images under QEMU user emulation

The matrix run (scripts/test, scripts/lab, scripts/bench-matrix)
    expect       labs/<lab>.expect.toml: expected outcome and observations, and why
    cells        run cells in batches in containers (labs/labkit/runner.py) and judge them
    session      MatrixSession and Selection: which cells, which containers, the report
    report       matrix.json, matrix.md, matrix.html and the start-cost plot
    lab          scripts/lab: one lab in every image, side by side
    bench        scripts/bench-matrix
    table        the one plain-text table (scripts/lab, scripts/check)

Features
    check/       scripts/check: a user's script across the matrix, each difference explained
    project/     scripts/check --project: a project's test suite across the matrix, per test
    hub/         scripts/hub: JupyterHub for a class, its client and benchmark
    run_notebook a notebook run through a Jupyter server (piped into a container)

Rendering
    render       compose.yaml, the hub's profiles, deploy/z2jh.yaml and the docs' tables, from matrix.toml
    templates/   their Jinja templates and the reports' HTML
"""
