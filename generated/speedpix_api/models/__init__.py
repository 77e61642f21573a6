"""Contains all the data models used in inputs/outputs"""

from .comfy_progress_data import ComfyProgressData
from .comfy_progress_response import ComfyProgressResponse
from .comfy_prompt_data import ComfyPromptData
from .comfy_prompt_request import ComfyPromptRequest
from .comfy_prompt_request_inputs import ComfyPromptRequestInputs
from .comfy_prompt_response import ComfyPromptResponse
from .comfy_result_data import ComfyResultData
from .comfy_result_data_info_type_0 import ComfyResultDataInfoType0
from .comfy_result_data_parameters_type_0 import ComfyResultDataParametersType0
from .comfy_result_data_result_type_0 import ComfyResultDataResultType0
from .comfy_result_response import ComfyResultResponse
from .envelope import Envelope
from .output_file import OutputFile
from .progress_state import ProgressState
from .task_id_request import TaskIdRequest
from .upload_sign_data import UploadSignData
from .upload_sign_request import UploadSignRequest
from .upload_sign_response import UploadSignResponse

__all__ = (
    "ComfyProgressData",
    "ComfyProgressResponse",
    "ComfyPromptData",
    "ComfyPromptRequest",
    "ComfyPromptRequestInputs",
    "ComfyPromptResponse",
    "ComfyResultData",
    "ComfyResultDataInfoType0",
    "ComfyResultDataParametersType0",
    "ComfyResultDataResultType0",
    "ComfyResultResponse",
    "Envelope",
    "OutputFile",
    "ProgressState",
    "TaskIdRequest",
    "UploadSignData",
    "UploadSignRequest",
    "UploadSignResponse",
)
