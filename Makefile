# convc: `make demo` and `make test` set everything up first (scripts/setup.sh).
PY := .venv/bin/python
CONVC := .venv/bin/convc
DEMO_MODEL := examples/digits/digits.onnx
DEMO_DATA := examples/digits/digits_test.npz
DEMO_CALIB := examples/digits/digits_calib.npz

.PHONY: setup demo test clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(CONVC) inspect $(DEMO_MODEL)
	$(CONVC) compile $(DEMO_MODEL) --target cortex-m4 --quantize int8 --calib $(DEMO_CALIB) -o build/digits-m4
	$(CONVC) validate $(DEMO_MODEL) --target cortex-m4 --quantize int8 --calib $(DEMO_CALIB) --data $(DEMO_DATA)

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf build .pytest_cache
