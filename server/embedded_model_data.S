// Places the default model's GGUF file in the read-only data of the
// executable. CMake passes the file's path as TEXTGEN_EMBEDDED_MODEL_PATH.
        .section .rodata
        .balign 64
        .global textgen_embedded_model_begin
        .global textgen_embedded_model_end
textgen_embedded_model_begin:
        .incbin TEXTGEN_EMBEDDED_MODEL_PATH
textgen_embedded_model_end:
        .section .note.GNU-stack,"",@progbits
