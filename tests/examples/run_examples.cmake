# The examples end to end (ctest: examples_end_to_end), run with cmake -P:
# a short train_coco run on its generated synthetic set, then eval_coco and
# detect on the checkpoint it wrote. Needs -DTRAIN_COCO=, -DEVAL_COCO=,
# -DDETECT= (executables) and -DWORK_DIR= (scratch folder, recreated).
cmake_minimum_required(VERSION 3.20)

foreach(var TRAIN_COCO EVAL_COCO DETECT WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_examples.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# run(<name> <expected exit code> <command...>): runs it, fails the test on
# another exit code, leaves the output in <name>_OUT / <name>_ERR.
function(run name expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 80)
  if(NOT rc STREQUAL "${expected}")
    message(FATAL_ERROR "${name}: exit ${rc}, expected ${expected}\n"
                        "command: ${ARGN}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(${name}_OUT "${out}" PARENT_SCOPE)
  set(${name}_ERR "${err}" PARENT_SCOPE)
endfunction()

function(expect_contains name text needle)
  string(FIND "${text}" "${needle}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "${name}: output lacks '${needle}':\n${text}")
  endif()
endfunction()

# Width and height from a PNG's IHDR chunk (bytes 16..23, big-endian).
function(png_size path out_w out_h)
  file(READ "${path}" hex LIMIT 24 HEX)
  string(SUBSTRING "${hex}" 0 16 magic)
  if(NOT magic STREQUAL "89504e470d0a1a0a")
    message(FATAL_ERROR "${path} is not a PNG file (starts with ${magic})")
  endif()
  string(SUBSTRING "${hex}" 32 8 w)
  string(SUBSTRING "${hex}" 40 8 h)
  math(EXPR w "0x${w}")
  math(EXPR h "0x${h}")
  set(${out_w} ${w} PARENT_SCOPE)
  set(${out_h} ${h} PARENT_SCOPE)
endfunction()

# 1. Train the default preset for one short epoch (64 px, 3 steps of 2
# images) on a small generated set.
set(run_dir "${WORK_DIR}/run")
run(train 0 "${TRAIN_COCO}" --epochs 1 --image-size 64 --max-steps 3 --batch-size 2 --workers 1
    --train-images 16 --val-images 4 --lr 0.25 --out "${run_dir}")
expect_contains(train "${train_OUT}" "final COCO metrics in percent (1 epochs, 3 steps")
# One results line per epoch, the resolved configuration, the best model.
expect_contains(train "${train_OUT}" "epoch 1/1 | loss ")
expect_contains(train "${train_OUT}" "| best AP ")
foreach(f args.json best.safetensors last.safetensors)
  if(NOT EXISTS "${run_dir}/${f}")
    message(FATAL_ERROR "train_coco left no ${f} in ${run_dir}")
  endif()
endforeach()
file(READ "${run_dir}/args.json" args_json)
string(JSON args_epochs GET "${args_json}" epochs)
string(JSON args_lr GET "${args_json}" lr)
if(NOT args_epochs EQUAL 1 OR NOT args_lr STREQUAL "0.25")
  message(FATAL_ERROR "args.json does not record the run (epochs ${args_epochs}, lr ${args_lr})")
endif()
# Arguments are checked before any work: nothing is generated for a bad one.
run(train_bad_batch 2 "${TRAIN_COCO}" --batch-size 0 --out "${WORK_DIR}/bad")
expect_contains(train_bad_batch "${train_bad_batch_ERR}" "--batch-size: 0 is below the minimum 1")
run(train_bad_criterion 2 "${TRAIN_COCO}" --criterion hungry --out "${WORK_DIR}/bad")
expect_contains(train_bad_criterion "${train_bad_criterion_ERR}" "must be one of 'hungarian', 'matchfree', got 'hungry'")
run(train_no_resume 2 "${TRAIN_COCO}" --resume --out "${WORK_DIR}/bad")
expect_contains(train_no_resume "${train_no_resume_ERR}" "holds no checkpoint")
if(EXISTS "${WORK_DIR}/bad")
  message(FATAL_ERROR "a refused train_coco command line left ${WORK_DIR}/bad behind")
endif()
# Every tool answers --help with its flags.
foreach(tool TRAIN_COCO EVAL_COCO DETECT)
  run(help_${tool} 0 "${${tool}}" --help)
  expect_contains(help_${tool} "${help_${tool}_OUT}" "usage: ")
  expect_contains(help_${tool} "${help_${tool}_OUT}" "--help")
endforeach()
expect_contains(help_TRAIN_COCO "${help_TRAIN_COCO_OUT}" "--alpha-w X")
expect_contains(help_DETECT "${help_DETECT_OUT}" "--device")
set(ckpt "${run_dir}/last.safetensors")
set(data "${run_dir}/synthetic")

# 2. eval_coco: the AP lines, the table, a results file that parses; with
# fit's batch size its detections equal fit's own evaluation bit for bit.
run(eval 0 "${EVAL_COCO}" --checkpoint "${ckpt}" --data "${data}" --batch-size 2
    --results "${WORK_DIR}/results.json")
expect_contains(eval "${eval_OUT}"
                "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ")
expect_contains(eval "${eval_OUT}" "| AP | AP50 | AP75 | APs | APm | APl | AR1 |")
file(READ "${WORK_DIR}/results.json" results)
string(JSON n ERROR_VARIABLE json_error LENGTH "${results}")
if(json_error OR n LESS 1)
  message(FATAL_ERROR "results.json does not parse or is empty: ${json_error}")
endif()
foreach(key image_id category_id bbox score)
  string(JSON value ERROR_VARIABLE json_error GET "${results}" 0 ${key})
  if(json_error)
    message(FATAL_ERROR "results.json entry 0 lacks ${key}: ${json_error}")
  endif()
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK_DIR}/results.json"
                        "${run_dir}/eval_epoch1.json" RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "eval_coco's detections differ from train_coco's evaluation of the same "
                      "checkpoint (eval_epoch1.json)")
endif()

# eval_coco errors.
run(eval_missing 1 "${EVAL_COCO}" --checkpoint "${WORK_DIR}/none.safetensors" --data "${data}")
expect_contains(eval_missing "${eval_missing_ERR}" "no such file")
run(eval_nodata 1 "${EVAL_COCO}" --checkpoint "${ckpt}" --data "${WORK_DIR}/no_data")
expect_contains(eval_nodata "${eval_nodata_ERR}" "does not exist")
run(eval_usage 2 "${EVAL_COCO}" --data "${data}")
expect_contains(eval_usage "${eval_usage_ERR}" "--checkpoint is required")

# 3. detect on the first validation image: a PNG of the input's size, with
# boxes (it differs from the same image drawn without detections).
file(READ "${data}/annotations/instances_val.json" instances)
string(JSON file_name GET "${instances}" images 0 file_name)
string(JSON width GET "${instances}" images 0 width)
string(JSON height GET "${instances}" images 0 height)
set(image "${data}/images/${file_name}")
run(detect 0 "${DETECT}" --checkpoint "${ckpt}" --image "${image}" --out "${WORK_DIR}/det.png"
    --threshold 0 --top 5)
expect_contains(detect "${detect_OUT}" "${width} x ${height} (w x h), 5 detections with score >= 0")
expect_contains(detect "${detect_OUT}" "label category name")
png_size("${WORK_DIR}/det.png" w h)
if(NOT w EQUAL width OR NOT h EQUAL height)
  message(FATAL_ERROR "det.png is ${w} x ${h}, the input ${width} x ${height}")
endif()
# The project's decoder reads the output back (detect on its own PNG).
run(detect_png 0 "${DETECT}" --checkpoint "${ckpt}" --image "${WORK_DIR}/det.png" --out
    "${WORK_DIR}/plain.png" --threshold 1)
expect_contains(detect_png "${detect_png_OUT}" "${width} x ${height} (w x h), 0 detections")
run(detect_plain 0 "${DETECT}" --checkpoint "${ckpt}" --image "${image}" --out
    "${WORK_DIR}/plain.png" --threshold 1)
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK_DIR}/det.png"
                        "${WORK_DIR}/plain.png" RESULT_VARIABLE differ)
if(NOT differ)
  message(FATAL_ERROR "det.png shows no boxes (equal to the image without detections)")
endif()

# detect errors.
run(detect_threshold 2 "${DETECT}" --checkpoint "${ckpt}" --image "${image}" --out
    "${WORK_DIR}/x.png" --threshold abc)
expect_contains(detect_threshold "${detect_threshold_ERR}" "--threshold: 'abc' is not a number")
run(detect_unreadable 1 "${DETECT}" --checkpoint "${ckpt}" --image "${WORK_DIR}/results.json"
    --out "${WORK_DIR}/x.png")
expect_contains(detect_unreadable "${detect_unreadable_ERR}" "results.json")
if(EXISTS "${WORK_DIR}/x.png")
  message(FATAL_ERROR "a failed detect left ${WORK_DIR}/x.png behind")
endif()

# Last (it changes the run's checkpoint): --resume says where it continues.
run(train_resume 0 "${TRAIN_COCO}" --epochs 2 --image-size 64 --max-steps 1 --batch-size 2
    --workers 1 --out "${run_dir}" --resume)
expect_contains(train_resume "${train_resume_ERR}" "resuming from epoch 1 of ")
expect_contains(train_resume "${train_resume_OUT}" "epoch 2/2 | loss ")

file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "examples end to end: train_coco, eval_coco and detect passed")
